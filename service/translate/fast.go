package translate

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The fast path decodes Stytch's JSON straight into the generated Go
// structs with encoding/json/v2 (their json tags carry the proto names,
// which are the wire names), instead of protojson's reflective decoder:
// about the cost of a struct decode. It accepts only what it can prove
// protojson would decode to the same message, and reports an error for
// everything else, so that Unmarshal falls back to protojson, which then
// gives the reference answer or error. Differential tests and a fuzzer hold
// the two to that.

var errFastPath = errors.New("not for the fast path")

var fastUnmarshalers = json.WithUnmarshalers(json.JoinUnmarshalers(
	json.UnmarshalFromFunc(fastTimestamp),
	json.UnmarshalFromFunc(fastStruct),
	json.UnmarshalFromFunc(fastStrings),
))

// fastOptions decode as protojson does strictly: an unknown key is an error
// (json.ErrUnknownName), as it is for RequestUnmarshalOptions.
var fastOptions = json.JoinOptions(json.RejectUnknownMembers(true), fastUnmarshalers)

// fastLenientOptions skip unknown keys, as upstreamUnmarshalOptions
// (protojson's DiscardUnknown) does: the fast path for an answer with a key
// the mirror lacks, whose keys the drift scan then reports.
var fastLenientOptions = json.JoinOptions(json.RejectUnknownMembers(false), fastUnmarshalers)

// fastUnmarshal is the strict fast path; any error means "use protojson"
// (or, for an unknown key, the lenient fast path).
func fastUnmarshal(body []byte, m proto.Message) error { return fastDecode(body, m, fastOptions) }

// fastUnmarshalLenient is the fast path that skips unknown keys.
func fastUnmarshalLenient(body []byte, m proto.Message) error {
	return fastDecode(body, m, fastLenientOptions)
}

func fastDecode(body []byte, m proto.Message, opts json.Options) error {
	// protojson wants an object at the top; json/v2 would take null.
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errFastPath
	}
	if err := json.Unmarshal(body, m, opts); err != nil {
		return err
	}
	// json/v2 puts a nil element in a message list for null; protojson
	// refuses the body. No "null" anywhere in the bytes, no null token: the
	// walk is skipped in the common case.
	if bytes.Contains(body, []byte("null")) && !noNilElements(m.ProtoReflect()) {
		return errFastPath
	}
	return nil
}

// fastTimestamp takes only the canonical form Stytch sends,
// 2006-01-02T15:04:05[.fraction]Z; anything else goes to protojson.
func fastTimestamp(dec *jsontext.Decoder, pp **timestamppb.Timestamp) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*pp = nil
		return nil
	case '"':
	default:
		return errFastPath
	}
	s := tok.String()
	if !canonicalTimestamp(s) {
		return errFastPath
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errFastPath
	}
	*pp = timestamppb.New(t)
	return nil
}

// canonicalTimestamp: YYYY-MM-DDTHH:MM:SS, 0 or 1..9 fraction digits, Z.
func canonicalTimestamp(s string) bool {
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return false
	}
	for i, c := range []byte(s[:19]) {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	frac := s[19 : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range []byte(frac[1:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fastStrings refuses null elements, which protojson refuses in a list.
func fastStrings(dec *jsontext.Decoder, p *[]string) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*p = nil
		return nil
	case '[':
	default:
		return errFastPath
	}
	out := (*p)[:0]
	for dec.PeekKind() != ']' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if tok.Kind() != '"' {
			return errFastPath
		}
		out = append(out, tok.String())
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	*p = out
	return nil
}

// fastStruct decodes a google.protobuf.Struct as protojson does: any JSON
// object, numbers as float64.
func fastStruct(dec *jsontext.Decoder, pp **structpb.Struct) error {
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		*pp = nil
		return err
	}
	s, err := readStruct(dec)
	if err != nil {
		return err
	}
	*pp = s
	return nil
}

func readStruct(dec *jsontext.Decoder) (*structpb.Struct, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '{' {
		return nil, errFastPath
	}
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String() // before the next read voids tok
		v, err := readValue(dec)
		if err != nil {
			return nil, err
		}
		s.Fields[name] = v
	}
	_, err = dec.ReadToken()
	return s, err
}

func readValue(dec *jsontext.Decoder) (*structpb.Value, error) {
	switch dec.PeekKind() {
	case '{':
		s, err := readStruct(dec)
		if err != nil {
			return nil, err
		}
		return structpb.NewStructValue(s), nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		list := &structpb.ListValue{}
		for dec.PeekKind() != ']' {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			list.Values = append(list.Values, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		return structpb.NewListValue(list), nil
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return structpb.NewNullValue(), nil
	case 't', 'f':
		return structpb.NewBoolValue(tok.Bool()), nil
	case '"':
		return structpb.NewStringValue(tok.String()), nil
	case '0':
		f, err := strconv.ParseFloat(tok.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, errFastPath
		}
		return structpb.NewNumberValue(f), nil
	}
	return nil, errFastPath
}

// noNilElements reports whether every message in every list of m (deeply)
// is present.
func noNilElements(m protoreflect.Message) bool {
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				e := l.Get(i).Message()
				if !e.IsValid() || !noNilElements(e) {
					ok = false
					return false
				}
			}
			return true
		}
		if !isFreeForm(fd.Message()) && !noNilElements(v.Message()) {
			ok = false
		}
		return ok
	})
	return ok
}
