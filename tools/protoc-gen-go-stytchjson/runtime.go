//go:build ignore

// This file is not compiled here: it is the fixed part of the generated
// package. The generator copies everything after the import block into
// gen/go/stytchjson, below the functions it writes per message, and imports
// the packages named here. It is a Go file so that gofmt and editors treat
// it as one; gen/go/stytchjson is where it compiles and is tested.

package stytchjson

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ErrRefused is the answer for a body that may be fine but that this
// decoder leaves to protojson: a form protojson might decode differently
// (a quoted or fractional number, a timestamp with an offset, …), nesting
// beyond Options.MaxDepth, or a message type it was not generated for.
// Malformed JSON is reported by jsontext's own errors.
var ErrRefused = errors.New("stytchjson: left to protojson")

// UnknownKeyReporter is told the JSON path of every key the message does
// not have, e.g. `member.roles[].sources[].weight` (list elements are
// marked [], keys inside google.protobuf.Struct are never unknown).
type UnknownKeyReporter interface {
	UnknownKey(path string)
}

// Options configure a decode, as protojson.UnmarshalOptions do.
type Options struct {
	// MaxDepth is the deepest nesting of objects and arrays decoded, the
	// top-level object being level 1; anything deeper is refused, so the
	// decoder's recursion stays shallow whatever the input. Zero or less
	// leaves only jsontext's own limit (10000 levels). Values of unknown
	// keys are skipped without recursion and not held to it.
	MaxDepth int

	// Drift, if not nil, is told about unknown keys, in document order,
	// once the whole body has decoded (never for a body refused halfway).
	Drift UnknownKeyReporter
}

// Unmarshal decodes body into m exactly as
// protojson.UnmarshalOptions{DiscardUnknown: true} would, or fails: with
// ErrRefused, or with a syntax error for malformed JSON. On failure m may
// hold part of the body; the caller resets it before trying protojson.
func (o Options) Unmarshal(body []byte, m proto.Message) error {
	d := decoders.Get().(*decoder)
	defer d.release()
	d.in = *bytes.NewBuffer(body)
	d.dec.Reset(&d.in, allowDuplicateNames)
	d.maxDepth, d.report = o.MaxDepth, o.Drift != nil
	if err := d.top(m); err != nil {
		return err
	}
	// protojson takes one value; jsontext would read on into a stream.
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = ErrRefused
		}
		return err
	}
	for _, path := range d.drift {
		o.Drift.UnknownKey(path)
	}
	return nil
}

// decoder is one decode's state. Decoders are pooled: the jsontext.Decoder
// keeps its state tables, the path and scratch buffers their capacity.
type decoder struct {
	in       bytes.Buffer // aliases the body: jsontext reads it in place
	dec      *jsontext.Decoder
	maxDepth int
	report   bool     // collect drift
	path     []string // keys from the top to the object being decoded
	drift    []string // paths of the unknown keys met so far
	scratch  []byte   // unescaped keys and strings

	// The elements of the lists being decoded, innermost last: a list is
	// gathered here and then allocated once, at its length.
	items  []any
	strs   []string
	values []*structpb.Value
}

// allowDuplicateNames spares jsontext the set of names of every object:
// the generated code refuses a field given twice itself, with a bit per
// field, as protojson does, and like protojson lets a key the message lacks
// repeat (and reports each). A Struct refuses a repeated key.
var allowDuplicateNames = jsontext.AllowDuplicateNames(true)

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = jsontext.NewDecoder(&d.in)
	return d
}}

func (d *decoder) release() {
	// Drop every reference to the body and to what was decoded.
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
	d.path, d.drift, d.scratch = reuse(d.path), reuse(d.drift), reuse(d.scratch)
	d.items, d.strs, d.values = reuse(d.items), reuse(d.strs), reuse(d.values)
	decoders.Put(d)
}

// reuse empties s for the next decode; one that a large body grew is
// dropped rather than kept in the pool.
func reuse[S ~[]E, E any](s S) S {
	if cap(s) > 1<<12 {
		return nil
	}
	clear(s)
	return s[:0]
}

// open reads the token that begins an object or array (kind '{' or '['),
// refusing any other value, and nesting beyond maxDepth.
func (d *decoder) open(kind jsontext.Kind) error {
	if d.dec.PeekKind() != kind {
		return ErrRefused
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	if d.maxDepth > 0 && d.dec.StackDepth() > d.maxDepth {
		return ErrRefused
	}
	return nil
}

// close reads the token that ends the object or array being decoded.
func (d *decoder) close() error {
	_, err := d.dec.ReadToken()
	return err
}

// null consumes a null, reporting whether there was one.
func (d *decoder) null() (bool, error) {
	if d.dec.PeekKind() != 'n' {
		return false, nil
	}
	_, err := d.dec.ReadToken()
	return true, err
}

// name reads an object member's name, unescaped. The bytes are valid until
// the next read; only a name holding an escape is copied (into scratch), so
// matching it against the field names allocates nothing.
func (d *decoder) name() ([]byte, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	return d.scratch, err
}

// text returns the Go string of a JSON string value (quotes included):
// the one allocation a string costs.
func (d *decoder) text(v jsontext.Value) (string, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	var err error
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	return string(d.scratch), err
}

// unknown skips the value of a key the message lacks (jsontext validates
// it as it goes), noting its path for drift. protojson reads a key in
// brackets as an extension's name: that is protojson's to decide.
func (d *decoder) unknown(name []byte) error {
	if len(name) > 0 && name[0] == '[' {
		return ErrRefused
	}
	if d.report {
		var b strings.Builder
		n := len(name)
		for _, p := range d.path {
			n += len(p) + 1
		}
		b.Grow(n)
		for _, p := range d.path {
			b.WriteString(p)
			b.WriteByte('.')
		}
		b.Write(name)
		d.drift = append(d.drift, b.String())
	}
	return d.dec.SkipValue()
}

// message decodes an object into a new T at *p (null leaves *p nil), its
// unknown keys reported under key, the member's name.
func message[T any](d *decoder, key string, p **T, decode func(*decoder, *T) error) error {
	if null, err := d.null(); null || err != nil {
		return err
	}
	*p = new(T)
	d.path = append(d.path, key)
	if err := decode(d, *p); err != nil {
		return err
	}
	d.path = d.path[:len(d.path)-1]
	return nil
}

// messages decodes an array of objects into a new slice at *p (null and
// [] leave it empty); a null or other value among them is refused, as
// protojson refuses it. Unknown keys are reported under key, ending in [].
func messages[T any](d *decoder, key string, p *[]*T, decode func(*decoder, *T) error) error {
	if null, err := d.null(); null || err != nil {
		return err
	}
	if err := d.open('['); err != nil {
		return err
	}
	d.path = append(d.path, key)
	start := len(d.items)
	for d.dec.PeekKind() != ']' {
		m := new(T)
		if err := decode(d, m); err != nil {
			return err
		}
		d.items = append(d.items, m)
	}
	if items := d.items[start:]; len(items) > 0 {
		*p = make([]*T, len(items))
		for i, m := range items {
			(*p)[i] = m.(*T)
		}
		clear(items)
		d.items = d.items[:start]
	}
	d.path = d.path[:len(d.path)-1]
	return d.close()
}

// scalar decodes a field without presence: the value read sets it, a null
// leaves it unset.
func scalar[T any](d *decoder, p *T, read func(*decoder) (T, bool, error)) error {
	v, ok, err := read(d)
	if ok {
		*p = v
	}
	return err
}

// optional decodes a scalar field with presence: the value read is set
// (even "", false or 0), a null leaves it nil.
func optional[T any](d *decoder, p **T, read func(*decoder) (T, bool, error)) error {
	v, ok, err := read(d)
	if ok {
		*p = new(T)
		**p = v
	}
	return err
}

// The readers of scalars report ok false for a null.

// readKind reads a value that must be of kind want (for a bool, 't'
// stands for both 't' and 'f'); anything but that or null is refused.
func (d *decoder) readKind(want jsontext.Kind) (v jsontext.Value, ok bool, err error) {
	v, err = d.dec.ReadValue()
	switch {
	case err != nil:
		return nil, false, err
	case v.Kind() == want, want == 't' && v.Kind() == 'f':
		return v, true, nil
	case v.Kind() == 'n':
		return nil, false, nil
	}
	return nil, false, ErrRefused
}

func (d *decoder) readString() (string, bool, error) {
	v, ok, err := d.readKind('"')
	if !ok {
		return "", false, err
	}
	s, err := d.text(v)
	return s, true, err
}

func (d *decoder) readBool() (bool, bool, error) {
	v, ok, err := d.readKind('t')
	return ok && v[0] == 't', ok, err
}

func (d *decoder) readInt32() (int32, bool, error) {
	v, ok, err := d.readKind('0')
	if !ok {
		return 0, false, err
	}
	n, ok := parseInt32(v)
	if !ok {
		return 0, false, ErrRefused
	}
	return n, true, nil
}

// parseInt32 takes a JSON number (valid, as jsontext read it) written as a
// plain integer within int32's range. Fractions and exponents protojson
// reads by rules of its own: they are refused.
func parseInt32(v []byte) (int32, bool) {
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}

func (d *decoder) stringList(p *[]string) error {
	if null, err := d.null(); null || err != nil {
		return err
	}
	if err := d.open('['); err != nil {
		return err
	}
	d.strs = d.strs[:0]
	for d.dec.PeekKind() != ']' {
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if v.Kind() != '"' { // null among strings included
			return ErrRefused
		}
		s, err := d.text(v)
		if err != nil {
			return err
		}
		d.strs = append(d.strs, s)
	}
	if len(d.strs) > 0 {
		*p = append([]string(nil), d.strs...)
		clear(d.strs)
	}
	return d.close()
}

// timestamp takes only the form Stytch sends, UTC with 0 to 9 fraction
// digits (2006-01-02T15:04:05.999999999Z), a valid date in years 0001 to
// 9999; offsets, escapes and everything else go to protojson.
func (d *decoder) timestamp(p **timestamppb.Timestamp) error {
	v, ok, err := d.readKind('"')
	if ok {
		if *p, ok = parseTimestamp(v[1 : len(v)-1]); !ok {
			return ErrRefused
		}
	}
	return err
}

func parseTimestamp(s []byte) (*timestamppb.Timestamp, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return nil, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return nil, false
	}
	nanos := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return nil, false
		}
		n, ok := digits(frac[1:])
		if !ok {
			return nil, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nanos = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	return &timestamppb.Timestamp{Seconds: t.Unix(), Nanos: int32(nanos)}, true
}

// digits parses a short run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// structField decodes a google.protobuf.Struct field: any object, numbers
// as float64; null leaves it nil.
func (d *decoder) structField(p **structpb.Struct) error {
	if null, err := d.null(); null || err != nil {
		return err
	}
	s, err := d.structObject()
	*p = s
	return err
}

func (d *decoder) structObject() (*structpb.Struct, error) {
	if err := d.open('{'); err != nil {
		return nil, err
	}
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for d.dec.PeekKind() != '}' {
		name, err := d.name()
		if err != nil {
			return nil, err
		}
		key := string(name) // before the next read voids name
		if _, dup := s.Fields[key]; dup {
			return nil, ErrRefused
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		s.Fields[key] = v
	}
	return s, d.close()
}

// A Value and the wrapper of its kind are allocated together, one
// allocation where structpb's constructors make two: the Value points
// into the same block, which stays alive as long as it does.
type (
	structValue struct {
		v structpb.Value
		k structpb.Value_StructValue
	}
	listValue struct {
		v structpb.Value
		k structpb.Value_ListValue
		l structpb.ListValue
	}
	stringValue struct {
		v structpb.Value
		k structpb.Value_StringValue
	}
	numberValue struct {
		v structpb.Value
		k structpb.Value_NumberValue
	}
	boolValue struct {
		v structpb.Value
		k structpb.Value_BoolValue
	}
	nullValue struct {
		v structpb.Value
		k structpb.Value_NullValue
	}
)

// value decodes any JSON value as a google.protobuf.Value.
func (d *decoder) value() (*structpb.Value, error) {
	switch d.dec.PeekKind() {
	case '{':
		s, err := d.structObject()
		if err != nil {
			return nil, err
		}
		c := &structValue{k: structpb.Value_StructValue{StructValue: s}}
		c.v.Kind = &c.k
		return &c.v, nil
	case '[':
		if err := d.open('['); err != nil {
			return nil, err
		}
		c := &listValue{}
		start := len(d.values)
		for d.dec.PeekKind() != ']' {
			e, err := d.value()
			if err != nil {
				return nil, err
			}
			d.values = append(d.values, e)
		}
		if values := d.values[start:]; len(values) > 0 {
			c.l.Values = append([]*structpb.Value(nil), values...)
			clear(values)
			d.values = d.values[:start]
		}
		c.k.ListValue = &c.l
		c.v.Kind = &c.k
		return &c.v, d.close()
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v.Kind() {
	case 'n':
		c := &nullValue{}
		c.v.Kind = &c.k
		return &c.v, nil
	case 't', 'f':
		c := &boolValue{k: structpb.Value_BoolValue{BoolValue: v[0] == 't'}}
		c.v.Kind = &c.k
		return &c.v, nil
	case '"':
		s, err := d.text(v)
		c := &stringValue{k: structpb.Value_StringValue{StringValue: s}}
		c.v.Kind = &c.k
		return &c.v, err
	case '0':
		// protojson refuses a number beyond float64 (ParseFloat's ErrRange).
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, ErrRefused
		}
		c := &numberValue{k: structpb.Value_NumberValue{NumberValue: f}}
		c.v.Kind = &c.k
		return &c.v, nil
	}
	return nil, ErrRefused
}
