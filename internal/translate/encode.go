package translate

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The fast encoder writes what MarshalOptions (protojson with proto names
// and default values) writes — the same JSON as parsed values — without
// protojson's per-call field sorting: fields go out in declaration order,
// through jsontext. Anything it does not know (maps, enums, bytes, 64-bit
// integers, Any, Duration, …) makes it give up, and Marshal falls back to
// protojson. Differential tests and a fuzzer hold the two equal.

var errFastEncode = errors.New("not for the fast encoder")

// encoders are pooled: a jsontext.Encoder keeps its state tables between
// calls (the output buffer is the caller's and never reused).
var encoders = sync.Pool{New: func() any {
	p := &pooledEncoder{}
	p.enc = jsontext.NewEncoder(&p.out)
	return p
}}

type pooledEncoder struct {
	out appendWriter
	enc *jsontext.Encoder
}

// fastMarshal encodes m, or fails with errFastEncode.
func fastMarshal(m proto.Message) ([]byte, error) {
	p := encoders.Get().(*pooledEncoder)
	defer encoders.Put(p)
	p.out.b = nil
	p.enc.Reset(&p.out)
	// A complete top-level value is written through to p.out.
	if err := writeMessage(p.enc, m.ProtoReflect()); err != nil {
		return nil, err
	}
	b := p.out.b
	p.out.b = nil
	if n := len(b); n > 0 && b[n-1] == '\n' { // jsontext ends top-level values with one
		b = b[:n-1]
	}
	return b, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func writeMessage(enc *jsontext.Encoder, m protoreflect.Message) error {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		return writeTimestamp(enc, m)
	case "google.protobuf.Struct":
		return writeStruct(enc, m)
	case "google.protobuf.Value":
		return writeValue(enc, m)
	case "google.protobuf.ListValue":
		return writeList(enc, m)
	}
	if m.Descriptor().FullName().Parent() == "google.protobuf" {
		return errFastEncode // other well-known types: protojson's business
	}
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.HasPresence() && !m.Has(fd) {
			continue
		}
		if fd.IsMap() || fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic() {
			return errFastEncode
		}
		if err := enc.WriteToken(jsontext.String(string(fd.Name()))); err != nil {
			return err
		}
		if fd.IsList() {
			if err := writeListField(enc, fd, m.Get(fd).List()); err != nil {
				return err
			}
			continue
		}
		if err := writeSingular(enc, fd, m.Get(fd)); err != nil {
			return err
		}
	}
	return enc.WriteToken(jsontext.EndObject)
}

func writeListField(enc *jsontext.Encoder, fd protoreflect.FieldDescriptor, l protoreflect.List) error {
	if err := enc.WriteToken(jsontext.BeginArray); err != nil {
		return err
	}
	for i := range l.Len() {
		if err := writeSingular(enc, fd, l.Get(i)); err != nil {
			return err
		}
	}
	return enc.WriteToken(jsontext.EndArray)
}

func writeSingular(enc *jsontext.Encoder, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return enc.WriteToken(jsontext.String(v.String()))
	case protoreflect.BoolKind:
		return enc.WriteToken(jsontext.Bool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return enc.WriteToken(jsontext.Int(v.Int()))
	case protoreflect.MessageKind:
		return writeMessage(enc, v.Message())
	}
	return errFastEncode
}

// writeTimestamp formats as protojson does: UTC, 0, 3, 6 or 9 fraction
// digits, Z.
func writeTimestamp(enc *jsontext.Encoder, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	secs, nanos := m.Get(fields.ByName("seconds")).Int(), m.Get(fields.ByName("nanos")).Int()
	// protojson's range: 0001-01-01 to 9999-12-31, nanos 0..999999999.
	if secs < -62135596800 || secs > 253402300799 || nanos < 0 || nanos > 999999999 {
		return errFastEncode
	}
	t := time.Unix(secs, nanos).UTC()
	s := t.Format("2006-01-02T15:04:05.000000000")
	switch {
	case nanos == 0:
		s = s[:19]
	case nanos%1000000 == 0:
		s = s[:23]
	case nanos%1000 == 0:
		s = s[:26]
	}
	return enc.WriteToken(jsontext.String(s + "Z"))
}

func writeStruct(enc *jsontext.Encoder, m protoreflect.Message) error {
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	fields := m.Get(m.Descriptor().Fields().ByName("fields")).Map()
	var err error
	fields.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if err = enc.WriteToken(jsontext.String(k.String())); err == nil {
			err = writeValue(enc, v.Message())
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	return enc.WriteToken(jsontext.EndObject)
}

func writeList(enc *jsontext.Encoder, m protoreflect.Message) error {
	if err := enc.WriteToken(jsontext.BeginArray); err != nil {
		return err
	}
	values := m.Get(m.Descriptor().Fields().ByName("values")).List()
	for i := range values.Len() {
		if err := writeValue(enc, values.Get(i).Message()); err != nil {
			return err
		}
	}
	return enc.WriteToken(jsontext.EndArray)
}

// writeValue writes a google.protobuf.Value; an unset kind or a NaN/Inf
// number is an error in protojson too.
func writeValue(enc *jsontext.Encoder, m protoreflect.Message) error {
	od := m.Descriptor().Oneofs().ByName("kind")
	fd := m.WhichOneof(od)
	if fd == nil {
		return errFastEncode
	}
	v := m.Get(fd)
	switch fd.Name() {
	case "null_value":
		return enc.WriteToken(jsontext.Null)
	case "number_value":
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return errFastEncode
		}
		return enc.WriteValue(jsontext.Value(strconv.AppendFloat(nil, f, 'g', -1, 64)))
	case "string_value":
		return enc.WriteToken(jsontext.String(v.String()))
	case "bool_value":
		return enc.WriteToken(jsontext.Bool(v.Bool()))
	case "struct_value":
		return writeStruct(enc, v.Message())
	case "list_value":
		return writeList(enc, v.Message())
	}
	return errFastEncode
}
