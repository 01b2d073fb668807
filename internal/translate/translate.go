// Package translate converts between Stytch's JSON wire format and the
// protobuf mirror of it.
//
// The rules it enforces are Stytch's: snake_case keys (the proto field names),
// always-present fields emitted even when empty ("", false, []), optional
// fields absent when unset, status_code a JSON number, RFC 3339 timestamps.
// Decoding tolerates what Stytch really sends: unknown keys (reported to a
// DriftReporter), explicit nulls, fractional-second timestamps.
package translate

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/attestd/attestd/gen/go/stytchjson"
	"github.com/attestd/attestd/internal/jsonlimit"
)

// MarshalOptions renders a message exactly as Stytch does: proto field names
// (Stytch's keys), fields without presence always emitted, fields with
// presence (optional scalars, messages) only when set.
var MarshalOptions = protojson.MarshalOptions{
	UseProtoNames:     true,
	EmitDefaultValues: true,
}

// RequestUnmarshalOptions decodes what callers send to attestd: an unknown key
// is an error that names it, so a misspelt field never vanishes silently.
var RequestUnmarshalOptions = protojson.UnmarshalOptions{DiscardUnknown: false}

// upstreamUnmarshalOptions decodes what Stytch sends when the strict pass
// failed: unknown keys are ignored (the drift scan reports them) so a new
// Stytch field never breaks attestd. The generated decoder follows the same
// rules.
var upstreamUnmarshalOptions = protojson.UnmarshalOptions{DiscardUnknown: true}

// DriftReporter is told about every key Stytch sent that the protobuf mirror
// does not know, by its JSON path (e.g. `member.roles[].sources[].weight`).
type DriftReporter interface {
	UnknownKey(path string)
}

// Unmarshal decodes a Stytch JSON body into m. Unknown keys are reported to
// drift (which may be nil) and otherwise ignored.
//
// The common cases, a body in the form Stytch sends, with or without keys
// the mirror lacks, cost one pass of the generated decoder
// (gen/go/stytchjson), which reports the unknown keys as it skips them.
// Anything it refuses is decoded by protojson, the reference: strictly,
// and when that fails leniently, and then scanned for the unknown keys
// that made the strict pass fail.
func Unmarshal(body []byte, m proto.Message, drift DriftReporter) error {
	// Nesting deeper than a request may (jsonlimit) is left to protojson:
	// the generated decoder recurses once a level.
	if (stytchjson.Options{MaxDepth: jsonlimit.MaxDepth, Drift: drift}).Unmarshal(body, m) == nil {
		return nil
	}
	proto.Reset(m)
	if RequestUnmarshalOptions.Unmarshal(body, m) == nil {
		return nil
	}
	proto.Reset(m)
	if err := upstreamUnmarshalOptions.Unmarshal(body, m); err != nil {
		return err
	}
	reportDrift(body, m, drift)
	return nil
}

// reportDrift tells drift (which may be nil) the unknown keys of body, which
// decoded into m.
func reportDrift(body []byte, m proto.Message, drift DriftReporter) {
	if drift != nil {
		// The body decoded, so it is valid JSON; a scan error cannot happen,
		// and would only cost drift reports. protojson lets a key the
		// message lacks repeat: each is reported, as the generated decoder
		// does.
		dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
		_ = scanUnknown(dec, m.ProtoReflect().Descriptor(), "", drift)
	}
}

// Struct and friends hold arbitrary keys: nothing inside them is drift.
func isFreeForm(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return true
	}
	return false
}

// scanUnknown walks one JSON value described by md, reporting object keys
// that md does not have. It reads the value completely.
func scanUnknown(dec *jsontext.Decoder, md protoreflect.MessageDescriptor, path string, drift DriftReporter) error {
	if md == nil || isFreeForm(md) || md.FullName() == "google.protobuf.Timestamp" || dec.PeekKind() != '{' {
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil { // '{'
		return err
	}
	fields := md.Fields()
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		key := tok.String()
		fd := fields.ByName(protoreflect.Name(key))
		if fd == nil {
			fd = fields.ByJSONName(key)
		}
		child := joinPath(path, key)
		switch {
		case fd == nil:
			drift.UnknownKey(child)
			err = dec.SkipValue()
		case fd.Message() == nil || fd.IsMap():
			err = dec.SkipValue()
		case fd.IsList() && dec.PeekKind() == '[':
			err = scanList(dec, fd.Message(), child+"[]", drift)
		default:
			err = scanUnknown(dec, fd.Message(), child, drift)
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // '}'
	return err
}

func scanList(dec *jsontext.Decoder, md protoreflect.MessageDescriptor, path string, drift DriftReporter) error {
	if _, err := dec.ReadToken(); err != nil { // '['
		return err
	}
	for dec.PeekKind() != ']' {
		if err := scanUnknown(dec, md, path, drift); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // ']'
	return err
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Marshal renders m as Stytch-shaped JSON.
func Marshal(m proto.Message) ([]byte, error) {
	if b, err := fastMarshal(m); err == nil {
		return b, nil
	}
	b, err := MarshalOptions.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}
