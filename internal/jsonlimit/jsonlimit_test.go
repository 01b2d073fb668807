package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDepth(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int
	}{
		{"empty", ``, 0},
		{"scalar", `42`, 0},
		{"string", `"{[{["`, 0},
		{"empty object", `{}`, 1},
		{"empty array", `[]`, 1},
		{"request", `{"profile_id":"p","token":"t"}`, 1},
		{"claims", `{"profile_id":"p","session_custom_claims":{"a":{"b":[1,{"c":null}]}}}`, 5},
		{"siblings do not add", `[[1],[2],[3]]`, 2},
		{"brackets in strings", `{"a":"}}}]]]","b":"{{{[[["}`, 1},
		{"escaped quote", `{"a":"x\"{[{["}`, 1},
		{"escaped backslash then quote", `{"a":"x\\","b":[[1]]}`, 3},
		{"three backslashes", `{"a":"\\\"[","b":[1]}`, 2},
		{"unicode escape is not a quote", `["\u0022",[1]]`, 2},
		{"unterminated string", `[["abc`, 2},
		{"stray closers ignored", `]]]}}[[1]]`, 2},
		{"whitespace", " \n{ \"a\" : [ ] } \t", 2},
		{"two values", `{"a":1}[[[]]]`, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Depth([]byte(tc.in)); got != tc.want {
				t.Errorf("Depth(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	nested := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1))
	}
	cases := []struct {
		name    string
		in      []byte
		limit   int
		wantErr bool
	}{
		{"at the limit", nested(MaxDepth), MaxDepth, false},
		{"one over", nested(MaxDepth + 1), MaxDepth, true},
		{"far over, unclosed", []byte(strings.Repeat("[", 60<<10)), MaxDepth, true},
		{"scalar, limit 0", []byte(`1`), 0, false},
		{"array, limit 0", []byte(`[]`), 0, true},
		{"deep brackets inside a string", []byte(`{"a":"` + strings.Repeat("[", 100) + `"}`), 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.in, tc.limit)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var de *DepthError
			if !errors.As(err, &de) || de.Limit != tc.limit {
				t.Fatalf("Check = %v, want a DepthError with limit %d", err, tc.limit)
			}
			if want := "nesting deeper than " + itoa(tc.limit) + " levels of objects and arrays"; err.Error() != want {
				t.Errorf("message %q, want %q", err.Error(), want)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestCheckAllocatesNothing: the scan is the cheap guard in front of the
// decoders, so it must not allocate (a refusal allocates its error only).
func TestCheckAllocatesNothing(t *testing.T) {
	body := []byte(`{"profile_id":"p","token":"` + strings.Repeat("t", 4096) + `","session_custom_claims":{"a":[1,"x\"]",{"b":null}]}}`)
	if n := testing.AllocsPerRun(100, func() { _ = Check(body, MaxDepth) }); n != 0 {
		t.Errorf("Check allocates %v times per call", n)
	}
}

// reference is the nesting of a decoded value, computed by recursion.
func reference(v any) int {
	deepest := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, reference(e))
		}
		return deepest + 1
	case []any:
		for _, e := range v {
			deepest = max(deepest, reference(e))
		}
		return deepest + 1
	}
	return 0
}

// FuzzDepthAgreesWithEncodingJSON: on valid JSON the scanner's depth is the
// decoded value's; on anything, Check refuses exactly when Depth exceeds the
// limit.
func FuzzDepthAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[[]]`, `{"a":"]\"}"}`, `{"a":[{"b":"\\"},[]]}`, `"\\\\\"["`, `[1,[2,[3,[4]]]]`,
		`{"profile_id":"p","token":"t","session_custom_claims":{"k":{"l":[1,{"m":{}}]}}}`,
		`{"a":1}{"b":[2]}`, `]]][[`, `["\u005c"]`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		d := Depth(b)
		if err := Check(b, int(limit)); (err != nil) != (d > int(limit)) {
			t.Fatalf("Check(limit %d) = %v but Depth = %d: %q", limit, err, d, b)
		}
		if !json.Valid(b) {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 1e1000 is valid JSON but no float64
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("valid JSON does not decode: %v", err)
		}
		if want := reference(v); d != want {
			t.Fatalf("Depth = %d, encoding/json's value nests %d: %q", d, want, b)
		}
	})
}

// BenchmarkCheckNestedAttack is the attack: 60 KB of nesting, under
// the 64 KiB body cap. The scan stops after MaxDepth+1 bytes.
func BenchmarkCheckNestedAttack(b *testing.B) {
	body := []byte(`{"profile_id":"p","token":"t","session_custom_claims":` + strings.Repeat(`{"a":`, 12<<10))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if Check(body, MaxDepth) == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkCheckTypical is the cost the check adds to a normal request.
func BenchmarkCheckTypical(b *testing.B) {
	body := []byte(`{"profile_id":"trusted-token-profile-test-1","token":"` + strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40) +
		`","session_duration_minutes":60,"session_custom_claims":{"roles":["admin","dev"],"team":{"id":"t-1","tier":3}}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Check(body, MaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}
