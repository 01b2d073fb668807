//go:build ignore

// This file is not compiled here: it is the fixed part of the generated
// package. The generator copies everything after the import block into
// gen/go/stytchjson, below the functions it writes per message, and imports
// the packages named here. It is a Go file so that gofmt and editors treat
// it as one; gen/go/stytchjson is where it compiles and is tested.

package stytchjson

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ErrRefused is the answer for a body that may be fine but that this
// decoder leaves to protojson: a form protojson might decode differently
// (a quoted or fractional number, a timestamp with an offset, an escaped
// lone surrogate, …), nesting beyond Options.MaxDepth, or a message type
// it was not generated for.
var ErrRefused = errors.New("stytchjson: left to protojson")

// ErrSyntax is the answer for a body that is not JSON (RFC 8259, in
// UTF-8): truncated, misspelt, a control character or invalid UTF-8 in a
// string, a value after the top-level one. It carries no position: the
// caller hands the body to protojson, which says where.
var ErrSyntax = errors.New("stytchjson: invalid JSON")

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
	// decoder's recursion stays shallow whatever the input. Zero or less,
	// or more than 10000 (protojson's own limit), leaves 10000. Values of
	// unknown keys are skipped without recursion and held to 10000 only.
	MaxDepth int

	// Drift, if not nil, is told about unknown keys, in document order,
	// once the whole body has decoded (never for a body refused halfway).
	Drift UnknownKeyReporter
}

// hardDepth bounds nesting whatever the options: protojson's own
// recursion limit (protowire.DefaultRecursionLimit), so that nothing
// deeper than protojson takes is taken here.
const hardDepth = 10000

// Unmarshal decodes body into m exactly as
// protojson.UnmarshalOptions{DiscardUnknown: true} would, or fails: with
// ErrRefused, or with ErrSyntax for malformed JSON. On failure m may hold
// part of the body; the caller resets it before trying protojson. Every
// string decoded is a copy: body may be reused once Unmarshal returns.
func (o Options) Unmarshal(body []byte, m proto.Message) error {
	d := decoders.Get().(*decoder)
	defer d.release()
	d.buf, d.depth = body, 0
	d.advance(0)
	d.maxDepth, d.report = o.MaxDepth, o.Drift != nil
	if d.maxDepth <= 0 || d.maxDepth > hardDepth {
		d.maxDepth = hardDepth
	}
	if err := d.top(m); err != nil {
		return err
	}
	// protojson takes one value, and whitespace around it.
	if d.pos < len(d.buf) {
		return ErrSyntax
	}
	for _, path := range d.drift {
		o.Drift.UnknownKey(path)
	}
	return nil
}

// decoder is one decode's state: a cursor over the body, which it reads in
// place and never writes. Decoders are pooled: the path, scratch and list
// buffers keep their capacity.
type decoder struct {
	buf      []byte // the body
	src      string // a copy of the body, once a string needs it (str)
	pos      int    // the next byte of buf to read
	depth    int    // objects and arrays open around pos (skip's excepted)
	maxDepth int
	report   bool     // collect drift
	path     []string // keys from the top to the object being decoded
	drift    []string // paths of the unknown keys met so far
	scratch  []byte   // unescaped keys and strings
	stack    []byte   // the closing bytes of the containers skip is in

	// The elements of the lists being decoded, innermost last: a list is
	// gathered here and then allocated once, at its length.
	items  []any
	strs   []string
	values []*structpb.Value
}

var decoders = sync.Pool{New: func() any { return &decoder{} }}

func (d *decoder) release() {
	// Drop every reference to the body and to what was decoded.
	d.buf, d.src = nil, ""
	d.path, d.drift, d.scratch = reuse(d.path), reuse(d.drift), reuse(d.scratch)
	d.stack = reuse(d.stack)
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

// peek returns the byte at pos, 0 at the end of the body (a NUL byte
// outside a string is never valid JSON either). Every read ends past the
// whitespace after what it read, so pos is always where a token begins.
func (d *decoder) peek() byte {
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

// advance moves pos to i, the end of a token, and past whitespace.
func (d *decoder) advance(i int) {
	d.pos = i
	if i < len(d.buf) && d.buf[i] > ' ' {
		return // no whitespace: the common case, inlined
	}
	d.ws()
}

// ws moves pos past whitespace; out of line so that advance inlines.
//
//go:noinline
func (d *decoder) ws() {
	b, i := d.buf, d.pos
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\t', '\r':
			i++
		default:
			d.pos = i
			return
		}
		// Indentation: spaces eight at a time.
		for i+8 <= len(b) {
			if x := binary.LittleEndian.Uint64(b[i:]) ^ ' '*ones; x != 0 {
				i += bits.TrailingZeros64(x) / 8
				break
			}
			i += 8
		}
	}
	d.pos = i
}

// open reads the byte that begins an object or array ('{' or '['),
// refusing any other value, and nesting beyond maxDepth.
func (d *decoder) open(c byte) error {
	if d.peek() != c {
		return ErrRefused
	}
	d.advance(d.pos + 1)
	if d.depth++; d.depth > d.maxDepth {
		return ErrRefused
	}
	return nil
}

// next reads what comes before an element of the object or array being
// decoded (closing byte end): nothing before the first, a ',' before any
// other, and whitespace. At the closing byte it reads that and reports
// false, with a nil error.
func (d *decoder) next(end byte, first bool) (more bool, err error) {
	c := d.peek()
	switch {
	case c == end:
		d.advance(d.pos + 1)
		d.depth--
		return false, nil
	case first:
		return true, nil
	case c == ',':
		d.advance(d.pos + 1)
		return true, nil
	}
	return false, ErrSyntax
}

// key reads the name of the object's next member and the ':' after it
// (first says whether it is the object's first), or reports the object's
// end (more false, err nil). The name is valid until the next key; only
// a name holding an escape is copied (into scratch), so matching it
// against the field names allocates nothing.
func (d *decoder) key(first bool) (name []byte, more bool, err error) {
	if more, err = d.next('}', first); !more {
		return nil, false, err
	}
	if d.peek() != '"' {
		return nil, false, ErrSyntax
	}
	raw, escaped, err := d.scan()
	if err != nil {
		return nil, false, err
	}
	if d.peek() != ':' {
		return nil, false, ErrSyntax
	}
	d.advance(d.pos + 1)
	if !escaped {
		return raw, true, nil
	}
	d.scratch = unescape(d.scratch[:0], raw)
	return d.scratch, true, nil
}

// safe marks the bytes a string holds as they are: not '"', '\\', a
// control character or the start of a multi-byte sequence.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special flags the bytes of w, eight bytes of a string, that may not be
// safe: each such byte's high bit is set in the result. The lowest flag is
// exact, the first unsafe byte: those above it may be set by a borrow.
func special(w uint64) uint64 {
	q, e := w^'"'*ones, w^'\\'*ones
	// A byte's high bit is set by: q-ones if it is '"', e-ones if '\\',
	// w-0x20*ones if below 0x20, w if 0x80 or above.
	return ((q - ones) | (e - ones) | (w - 0x20*ones) | w) & highs
}

// scan reads a string (pos at its opening quote) and returns its bytes
// between the quotes, as written, and whether they hold an escape. It
// checks all of it: UTF-8, no control characters, valid escapes (an
// escaped surrogate must be half of a pair, as protojson requires).
func (d *decoder) scan() (raw []byte, escaped bool, err error) {
	b := d.buf
	start := d.pos + 1
	ascii := true
	for i := start; i < len(b); {
		// Eight bytes at a time to the first that is not safe.
		for i+8 <= len(b) {
			if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if safe[c] {
			i++ // within the last eight bytes of the body
			continue
		}
		switch {
		case c == '"':
			raw = b[start:i]
			if !ascii && !utf8.Valid(raw) {
				return nil, false, ErrSyntax
			}
			d.advance(i + 1)
			return raw, escaped, nil
		case c == '\\':
			n, err := escapeLen(b[i:])
			if err != nil {
				return nil, false, err
			}
			escaped = true
			i += n
		case c < 0x20:
			return nil, false, ErrSyntax
		default:
			ascii = false
			i++
		}
	}
	return nil, false, ErrSyntax // unterminated
}

// escapeLen checks the escape that begins b and returns its length: two
// bytes, six for \uXXXX, twelve for a surrogate pair.
func escapeLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, ErrSyntax
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, ErrSyntax
	}
	r, ok := hex4(b[2:])
	switch {
	case !ok:
		return 0, ErrSyntax
	case !utf16.IsSurrogate(r):
		return 6, nil
	case r >= 0xdc00 || len(b) < 12 || b[6] != '\\' || b[7] != 'u':
		return 0, ErrRefused // a lone surrogate
	}
	lo, ok := hex4(b[8:])
	switch {
	case !ok:
		return 0, ErrSyntax
	case lo < 0xdc00 || lo > 0xdfff:
		return 0, ErrRefused
	}
	return 12, nil
}

// hex4 parses the four hex digits that begin b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape appends the text of raw, a string's bytes that scan checked, to
// dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch c = raw[i+1]; c {
		case 'u':
			r, _ := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				lo, _ := hex4(raw[i+2:])
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		}
		dst = append(dst, c) // '"', '\\' and '/' stand for themselves
		i += 2
	}
	return dst
}

// text returns the Go string of a string's bytes as scan returned them.
func (d *decoder) text(raw []byte, escaped bool) string {
	if !escaped {
		return d.str(raw)
	}
	d.scratch = unescape(d.scratch[:0], raw)
	return string(d.scratch)
}

// str returns b as a string. When b lies in the body, it is a substring of
// one copy of the whole body, made at the first string: a decode then
// costs one allocation for all its unescaped strings instead of one each
// (about 100 of a typical answer's 250), and every string is still a copy,
// never the body's bytes. The copy lives as long as any of its strings,
// which live as long as the message they belong to.
func (d *decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// b is d.buf[i:j] exactly when its start is d.buf's i-th byte.
	if i := cap(d.buf) - cap(b); i >= 0 && i+len(b) <= len(d.buf) && &d.buf[i] == &b[0] {
		if d.src == "" {
			d.src = string(d.buf)
		}
		return d.src[i : i+len(b)]
	}
	return string(b)
}

// number reads a number (pos at its first byte) as JSON writes one, and
// returns its bytes and whether it is a plain integer (no fraction or
// exponent).
func (d *decoder) number() (v []byte, integer bool, err error) {
	b, i := d.buf, d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digitsEnd(b, i+1)
	default:
		return nil, false, ErrSyntax
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		j := digitsEnd(b, i+1)
		if j == i+1 {
			return nil, false, ErrSyntax
		}
		i, integer = j, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsEnd(b, i)
		if j == i {
			return nil, false, ErrSyntax
		}
		i, integer = j, false
	}
	v = b[d.pos:i]
	d.advance(i)
	return v, integer, nil
}

// digitsEnd returns the index of the first byte at or after i that is not
// a digit.
func digitsEnd(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// literal reads lit (true, false or null), pos at its first byte.
func (d *decoder) literal(lit string) error {
	if len(d.buf)-d.pos < len(lit) || string(d.buf[d.pos:d.pos+len(lit)]) != lit {
		return ErrSyntax
	}
	d.advance(d.pos + len(lit))
	return nil
}

// unknown skips the value of a key the message lacks, noting its path for
// drift. protojson reads a key in brackets as an extension's name: that is
// protojson's to decide.
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
	return d.skip()
}

// skip reads one value of any kind and checks it, all of it, as the
// decode would; without recursion, the containers it is in kept on
// d.stack, and held to hardDepth with those around it.
func (d *decoder) skip() error {
	d.stack = d.stack[:0]
	for {
		// A value, or the start of one's first element.
		switch c := d.peek(); c {
		case '{', '[':
			d.advance(d.pos + 1)
			d.stack = append(d.stack, c+2) // '}' or ']'
			if d.depth+len(d.stack) > hardDepth {
				return ErrRefused
			}
			if d.peek() != c+2 {
				if c == '{' {
					if err := d.member(); err != nil {
						return err
					}
				}
				continue
			}
			// empty: closed below
		case '"':
			if _, _, err := d.scan(); err != nil {
				return err
			}
		case 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		default:
			if _, _, err := d.number(); err != nil {
				return err
			}
		}
		// After a value: close what ends here, then move on to the next
		// element, if any.
		for {
			if len(d.stack) == 0 {
				return nil
			}
			end := d.stack[len(d.stack)-1]
			c := d.peek()
			if c == end {
				d.advance(d.pos + 1)
				d.stack = d.stack[:len(d.stack)-1]
				continue
			}
			if c != ',' {
				return ErrSyntax
			}
			d.advance(d.pos + 1)
			if end == '}' {
				if err := d.member(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// member reads a skipped object's member name and the ':' after it.
func (d *decoder) member() error {
	if d.peek() != '"' {
		return ErrSyntax
	}
	if _, _, err := d.scan(); err != nil {
		return err
	}
	if d.peek() != ':' {
		return ErrSyntax
	}
	d.advance(d.pos + 1)
	return nil
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
	for first := true; ; first = false {
		more, err := d.next(']', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
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
	return nil
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

// null consumes a null, reporting whether there was one.
func (d *decoder) null() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.literal("null")
}

// The readers of scalars report ok false for a null, and refuse a value of
// another kind.

func (d *decoder) readString() (string, bool, error) {
	switch d.peek() {
	case '"':
		raw, escaped, err := d.scan()
		if err != nil {
			return "", false, err
		}
		return d.text(raw, escaped), true, nil
	case 'n':
		return "", false, d.literal("null")
	}
	return "", false, ErrRefused
}

func (d *decoder) readBool() (bool, bool, error) {
	switch d.peek() {
	case 't':
		return true, true, d.literal("true")
	case 'f':
		return false, true, d.literal("false")
	case 'n':
		return false, false, d.literal("null")
	}
	return false, false, ErrRefused
}

func (d *decoder) readInt32() (int32, bool, error) {
	switch c := d.peek(); {
	case c == '-' || '0' <= c && c <= '9':
		v, integer, err := d.number()
		if err != nil {
			return 0, false, err
		}
		n, ok := parseInt32(v)
		if !integer || !ok {
			return 0, false, ErrRefused
		}
		return n, true, nil
	case c == 'n':
		return 0, false, d.literal("null")
	}
	return 0, false, ErrRefused
}

// parseInt32 takes a JSON integer (no fraction or exponent: protojson
// reads those by rules of its own) within int32's range.
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
	for first := true; ; first = false {
		more, err := d.next(']', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if d.peek() != '"' { // null among strings included
			return ErrRefused
		}
		raw, escaped, err := d.scan()
		if err != nil {
			return err
		}
		d.strs = append(d.strs, d.text(raw, escaped))
	}
	if len(d.strs) > 0 {
		*p = append([]string(nil), d.strs...)
		clear(d.strs)
	}
	return nil
}

// timestamp takes only the form Stytch sends, UTC with 0 to 9 fraction
// digits (2006-01-02T15:04:05.999999999Z), a valid date in years 0001 to
// 9999; offsets, escapes and everything else go to protojson.
func (d *decoder) timestamp(p **timestamppb.Timestamp) error {
	switch d.peek() {
	case '"':
		raw, escaped, err := d.scan()
		if err != nil {
			return err
		}
		var ok bool
		if *p, ok = parseTimestamp(raw); escaped || !ok {
			return ErrRefused
		}
		return nil
	case 'n':
		return d.literal("null")
	}
	return ErrRefused
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
	*p = &structpb.Struct{}
	return d.structObject(*p)
}

// structObject decodes an object into s's fields.
func (d *decoder) structObject(s *structpb.Struct) error {
	if err := d.open('{'); err != nil {
		return err
	}
	s.Fields = map[string]*structpb.Value{}
	for first := true; ; first = false {
		name, more, err := d.key(first)
		if !more {
			return err
		}
		if _, dup := s.Fields[string(name)]; dup {
			return ErrRefused
		}
		key := d.str(name) // before the next key voids name
		v, err := d.value()
		if err != nil {
			return err
		}
		s.Fields[key] = v
	}
}

// A Value, the wrapper of its kind and a Struct or ListValue it holds
// (with a short list's elements) are allocated together, one allocation
// where structpb's constructors make two to four: the Value points into
// the same block, which stays alive as long as it does.
type (
	structValue struct {
		v structpb.Value
		k structpb.Value_StructValue
		s structpb.Struct
	}
	listValue struct {
		v structpb.Value
		k structpb.Value_ListValue
		l structpb.ListValue
		e [4]*structpb.Value // l.Values, if it fits
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
	switch c := d.peek(); c {
	case '{':
		c := &structValue{}
		if err := d.structObject(&c.s); err != nil {
			return nil, err
		}
		c.k.StructValue = &c.s
		c.v.Kind = &c.k
		return &c.v, nil
	case '[':
		if err := d.open('['); err != nil {
			return nil, err
		}
		c := &listValue{}
		start := len(d.values)
		for first := true; ; first = false {
			more, err := d.next(']', first)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			e, err := d.value()
			if err != nil {
				return nil, err
			}
			d.values = append(d.values, e)
		}
		if values := d.values[start:]; len(values) > 0 {
			if len(values) <= len(c.e) {
				c.l.Values = c.e[:0:len(values)]
			}
			c.l.Values = append(c.l.Values, values...)
			clear(values)
			d.values = d.values[:start]
		}
		c.k.ListValue = &c.l
		c.v.Kind = &c.k
		return &c.v, nil
	case '"':
		raw, escaped, err := d.scan()
		if err != nil {
			return nil, err
		}
		c := &stringValue{k: structpb.Value_StringValue{StringValue: d.text(raw, escaped)}}
		c.v.Kind = &c.k
		return &c.v, nil
	case 't', 'f':
		lit := "false"
		if c == 't' {
			lit = "true"
		}
		if err := d.literal(lit); err != nil {
			return nil, err
		}
		c := &boolValue{k: structpb.Value_BoolValue{BoolValue: c == 't'}}
		c.v.Kind = &c.k
		return &c.v, nil
	case 'n':
		if err := d.literal("null"); err != nil {
			return nil, err
		}
		c := &nullValue{}
		c.v.Kind = &c.k
		return &c.v, nil
	}
	f, err := d.float()
	if err != nil {
		return nil, err
	}
	c := &numberValue{k: structpb.Value_NumberValue{NumberValue: f}}
	c.v.Kind = &c.k
	return &c.v, nil
}

// float reads a number as protojson reads a Value's: as ParseFloat does,
// refusing one beyond float64 (ParseFloat's ErrRange), which protojson
// refuses.
func (d *decoder) float() (float64, error) {
	v, integer, err := d.number()
	if err != nil {
		return 0, err
	}
	if integer && len(v) <= 15 {
		// Below 10^15, so exact in a float64, as ParseFloat reads it; -0
		// keeps its sign.
		neg := v[0] == '-'
		if neg {
			v = v[1:]
		}
		var n int64
		for _, c := range v {
			n = n*10 + int64(c-'0')
		}
		f := float64(n)
		if neg {
			f = -f
		}
		return f, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, ErrRefused
	}
	return f, nil
}
