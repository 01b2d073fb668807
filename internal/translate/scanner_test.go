package translate

import (
	"strings"
	"testing"

	"github.com/attestd/attestd/internal/jsonlimit"
)

// The generated decoder scans the body's bytes itself; these are the edges
// of JSON's grammar it meets, each held to protojson by agree.

// nest is n arrays, one in the other, the innermost holding inner.
func nest(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// scannerEdges says for each body whether the generated decoder takes it
// (everything else goes to protojson).
var scannerEdges = []struct {
	name      string
	body      string
	generated bool
}{
	// Escapes.
	{"short escapes", `{"member_id":"\" \\ \/ \b \f \n \r \t"}`, true},
	{"escaped NUL", `{"member_id":"a\u0000b"}`, true},
	{"unicode escapes, both cases", `{"member_id":"\u00e9\u00E9\uFFFF\u0041"}`, true},
	{"surrogate pair", `{"member_id":"\uD83D\uDE00\ud83d\ude00"}`, true},
	{"escapes in a struct", `{"member":{"trusted_metadata":{"k\u00e9\n":"v\ud83d\ude00\t"}}}`, true},
	{"escapes in a string list", `{"member_session":{"roles":["a\"b","\u0063"]}}`, true},
	{"lone high surrogate", `{"member_id":"\ud800"}`, false},
	{"lone low surrogate", `{"member_id":"\udc00"}`, false},
	{"high surrogate and a letter", `{"member_id":"\ud800\u0041"}`, false},
	{"high surrogate and text", `{"member_id":"\ud800abcdef"}`, false},
	{"two high surrogates", `{"member_id":"\ud800\ud800"}`, false},
	{"pair and a lone low", `{"member_id":"\ud83d\ude00\ude00"}`, false},
	{"lone surrogate in a new key", `{"\ud800":1}`, false},
	{"lone surrogate in a new value", `{"x":"\udfff"}`, false},
	{"short \\u", `{"member_id":"\u12"}`, false},
	{"bad hex", `{"member_id":"\u12g4"}`, false},
	{"bad hex in the low half", `{"member_id":"\ud83d\ude0g"}`, false},
	{"unknown escape", `{"member_id":"\x41"}`, false},
	{"capital U", `{"member_id":"\U0041"}`, false},
	{"escaped quote ends nothing", `{"member_id":"a\"}`, false},
	{"escaped key with a pair", `{"\ud83d\ude00":1,"a\u0000b":2}`, true},
	{"empty keys", `{"":1,"member":{"":[]}}`, true},

	// UTF-8 and control characters.
	{"raw multi-byte UTF-8", "{\"member_id\":\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac\"}", true},
	{"invalid byte", "{\"member_id\":\"\xff\"}", false},
	{"truncated sequence", "{\"member_id\":\"\xc3\"}", false},
	{"bad continuation", "{\"member_id\":\"\xc3(\"}", false},
	{"encoded surrogate", "{\"member_id\":\"\xed\xa0\x80\"}", false},
	{"overlong", "{\"member_id\":\"\xc0\xaf\"}", false},
	{"beyond U+10FFFF", "{\"member_id\":\"\xf4\x90\x80\x80\"}", false},
	{"invalid UTF-8 in a known key", "{\"member_id\xff\":\"a\"}", false},
	{"invalid UTF-8 in a skipped value", "{\"x\":[\"\xff\"]}", false},
	{"invalid UTF-8 in a skipped key", "{\"x\":{\"\xff\":1}}", false},
	{"invalid UTF-8 in a struct key", "{\"member\":{\"trusted_metadata\":{\"\xff\":1}}}", false},
	{"invalid UTF-8 in a struct value", "{\"member\":{\"trusted_metadata\":{\"a\":\"\xfe\"}}}", false},
	{"control character", "{\"member_id\":\"\x01\"}", false},
	{"unit separator", "{\"member_id\":\"\x1f\"}", false},
	{"raw tab", "{\"member_id\":\"a\tb\"}", false},
	{"raw newline in a skipped value", "{\"x\":\"a\nb\"}", false},
	{"NUL in a key", "{\"a\x00\":1}", false},
	{"DEL", "{\"member_id\":\"\x7f\"}", true},
	{"unterminated", `{"member_id":"abc`, false},

	// Numbers.
	{"int32 exponent", `{"status_code":1e5}`, false},
	{"int32 capital exponent", `{"status_code":1E+5}`, false},
	{"int32 fraction zero", `{"status_code":1.0}`, false},
	{"int32 leading zero", `{"status_code":01}`, false},
	{"int32 double zero", `{"status_code":00}`, false},
	{"int32 trailing dot", `{"status_code":1.}`, false},
	{"int32 leading dot", `{"status_code":.5}`, false},
	{"int32 minus alone", `{"status_code":-}`, false},
	{"int32 double minus", `{"status_code":--1}`, false},
	{"int32 plus", `{"status_code":+1}`, false},
	{"int32 huge", `{"status_code":99999999999999999999}`, false},
	{"int32 below range", `{"status_code":-2147483649}`, false},
	{"int32 zero", `{"status_code":0}`, true},
	{"struct numbers", `{"member":{"trusted_metadata":{"a":-0,"b":1e5,"c":1E+5,"d":1e-5,"e":0.5,"f":999999999999999,"g":-99999999999999,"h":1234567890123456789,"i":9007199254740993,"j":1.7976931348623157e308,"k":-0.0,"l":0e0,"m":5e-324}}}`, true},
	{"struct leading zero", `{"member":{"trusted_metadata":{"a":01}}}`, false},
	{"struct trailing dot", `{"member":{"trusted_metadata":{"a":1.}}}`, false},
	{"struct leading dot", `{"member":{"trusted_metadata":{"a":.5}}}`, false},
	{"struct minus alone", `{"member":{"trusted_metadata":{"a":-}}}`, false},
	{"struct bare exponent", `{"member":{"trusted_metadata":{"a":1e}}}`, false},
	{"struct signed bare exponent", `{"member":{"trusted_metadata":{"a":1e+}}}`, false},
	{"struct hex", `{"member":{"trusted_metadata":{"a":0x10}}}`, false},
	{"struct infinity", `{"member":{"trusted_metadata":{"a":Infinity}}}`, false},
	{"struct NaN", `{"member":{"trusted_metadata":{"a":NaN}}}`, false},
	{"struct beyond float64, negative", `{"member":{"trusted_metadata":{"a":-1e400}}}`, false},
	{"struct just beyond float64", `{"member":{"trusted_metadata":{"a":1.8e308}}}`, false},
	{"skipped huge number", `{"x":1e400,"y":-123456789012345678901234567890.5e-7}`, true},
	{"skipped leading zero", `{"x":01}`, false},
	{"skipped minus alone", `{"x":-}`, false},

	// Literals.
	{"truncated literal", `{"member":{"is_admin":tru}}`, false},
	{"long literal", `{"member":{"is_admin":truex}}`, false},
	{"capital literal", `{"member":{"is_admin":True}}`, false},
	{"skipped literals", `{"x":[true,false,null]}`, true},
	{"skipped bad literal", `{"x":nul}`, false},
	{"struct bad literal", `{"member":{"trusted_metadata":{"a":fals}}}`, false},

	// Whitespace and punctuation.
	{"whitespace everywhere", " \t\r\n{ \"member_id\" : \"a\" ,\n\t\"x\" : [ 1 , { } , [ ] ] ,\r\n\"member\" : { \"roles\" : [ ] , \"trusted_metadata\" : { \"a\" : [ 1 , null ] } } }\n ", true},
	{"no whitespace", `{"x":[1,{},[]],"member":{"roles":[],"trusted_metadata":{"a":[1,null]}}}`, true},
	{"long indentation", "{\n" + strings.Repeat(" ", 37) + "\"member_id\":\n" + strings.Repeat(" ", 64) + "\"a\"\n" + strings.Repeat("\t", 9) + "}", true},
	{"vertical tab", "{\"member_id\":\"a\"}\v", false},
	{"form feed", "{\f}", false},
	{"non-breaking space", "\xc2\xa0{}", false},
	{"byte order mark", "\xef\xbb\xbf{}", false},
	{"missing comma", `{"x":[1 2]}`, false},
	{"trailing comma in a list", `{"x":[1,]}`, false},
	{"trailing comma in an object", `{"x":{"a":1,}}`, false},
	{"trailing comma in a message", `{"member_id":"a",}`, false},
	{"trailing comma in a struct", `{"member":{"trusted_metadata":{"a":1,}}}`, false},
	{"trailing comma in a message list", `{"member":{"roles":[{},]}}`, false},
	{"trailing comma in a string list", `{"member_session":{"roles":["a",]}}`, false},
	{"leading comma", `{,"member_id":"a"}`, false},
	{"comma alone", `{"x":[,]}`, false},
	{"double comma", `{"member_id":"a",,"x":1}`, false},
	{"key without value", `{"member_id"}`, false},
	{"key without colon", `{"member_id" "a"}`, false},
	{"value missing", `{"member_id":}`, false},
	{"number as key", `{"x":{1:2}}`, false},
	{"unquoted key", `{member_id:"a"}`, false},
	{"single quotes", `{'member_id':'a'}`, false},
	{"mismatched close", `{"x":[1}}`, false},
	{"mismatched close in an object", `{"x":{"a":1]}`, false},

	// What follows the top-level value.
	{"trailing letter", "{} x", false},
	{"second object", "{}{}", false},
	{"trailing NUL", "{}\x00", false},
	{"trailing comma", "{},", false},
	{"trailing bracket", "{}]", false},
	{"trailing whitespace", "{} \n\t\r", true},
	{"top-level string", `"a"`, false},
	{"top-level number", `1`, false},
	{"whitespace only", " \n", false},

	// Nesting: known values are held to jsonlimit.MaxDepth, skipped ones
	// only to protojson's own limit (10000 levels).
	{"struct list at the limit", `{"member":{"trusted_metadata":{"a":` + nest(jsonlimit.MaxDepth-3, "1") + `}}}`, true},
	{"struct list past the limit", `{"member":{"trusted_metadata":{"a":` + nest(jsonlimit.MaxDepth-2, "1") + `}}}`, false},
	{"skipped value past MaxDepth", `{"x":` + nest(jsonlimit.MaxDepth, "") + `}`, true},
	{"skipped objects past MaxDepth", `{"x":` + strings.Repeat(`{"a":`, jsonlimit.MaxDepth) + `1` + strings.Repeat(`}`, jsonlimit.MaxDepth) + `}`, true},
	{"skipped value at protojson's limit", `{"x":` + nest(9999, "") + `}`, true},
	{"skipped value past protojson's limit", `{"x":` + nest(10000, "") + `}`, false},
	{"skipped value far past protojson's limit", `{"x":` + nest(100000, "") + `}`, false},
	{"skipped value unclosed", `{"x":` + strings.Repeat("[", 1000) + `}`, false},
}

func TestGeneratedDecoderScanner(t *testing.T) {
	for _, tc := range scannerEdges {
		t.Run(tc.name, func(t *testing.T) {
			if got := agree(t, []byte(tc.body)); got != tc.generated {
				t.Errorf("generated decoder took it = %v, want %v", got, tc.generated)
			}
		})
	}
}

// small holds every kind of value the decoder reads, known and skipped.
const small = `{"member_id":"a\u00e9\"","status_code":200,"member":{"is_admin":true,"roles":[{"role_id":"r"}],"trusted_metadata":{"a":[1.5,null,false,"x"],"b":-0,"c":{}}},"member_session":{"roles":["s"]},"x":{"y":[1e5,{"z":null}],"w":"v"}}`

// TestGeneratedDecoderTruncated: every prefix of a small document is
// refused, the document itself taken.
func TestGeneratedDecoderTruncated(t *testing.T) {
	for i := range len(small) {
		if agree(t, []byte(small[:i])) {
			t.Errorf("took the first %d bytes: %s", i, small[:i])
		}
	}
	if !agree(t, []byte(small)) {
		t.Error("refused the whole document")
	}
}

// TestGeneratedDecoderStringSpans: strings scanned eight bytes at a time
// find what needs a look (an escape, a control character, a multi-byte
// character, the end) at any offset.
func TestGeneratedDecoderStringSpans(t *testing.T) {
	for n := range 20 {
		pad := strings.Repeat("a", n)
		for _, tc := range []struct {
			s         string
			generated bool
		}{
			{pad, true},
			{pad + `\n` + pad, true},
			{pad + `\u00e9`, true},
			{pad + "\xc3\xa9" + pad, true},
			{pad + "\x7f" + pad, true},
			{pad + "\x1f" + pad, false},
			{pad + "\xff" + pad, false},
			{pad + "\xe2\x82", false},
		} {
			for _, body := range []string{
				`{"member_id":"` + tc.s + `"}`,
				`{"member":{"trusted_metadata":{"` + tc.s + `":"` + tc.s + `"}}}`,
				`{"x":["` + tc.s + `"]}`,
			} {
				if got := agree(t, []byte(body)); got != tc.generated {
					t.Errorf("generated decoder took %q = %v, want %v", body, got, tc.generated)
				}
			}
		}
	}
}

// addScannerSeeds gives the fuzzer the edges above.
func addScannerSeeds(f *testing.F) {
	for _, tc := range scannerEdges {
		if len(tc.body) < 1000 {
			f.Add([]byte(tc.body))
		}
	}
	for i := range len(small) {
		f.Add([]byte(small[:i]))
	}
	f.Add([]byte(small))
}
