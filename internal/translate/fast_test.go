package translate

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/stytchtest"

	"github.com/google/go-cmp/cmp"
)

func BenchmarkDecodeProtojson(b *testing.B) {
	body := stytchtest.Typical()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := RequestUnmarshalOptions.Unmarshal(body, &b2bsessionv1.AttestResponse{}); err != nil {
			b.Fatal(err)
		}
	}
}

// sameJSON checks the fast encoder against protojson on one message: the
// same parsed JSON, or both failing.
func sameJSON(t testing.TB, m proto.Message) {
	t.Helper()
	fast, fastErr := fastMarshal(m)
	ref, refErr := MarshalOptions.Marshal(m)
	if refErr != nil {
		if fastErr == nil {
			t.Fatalf("fast encoder succeeded where protojson fails (%v): %s", refErr, fast)
		}
		return
	}
	if fastErr != nil {
		t.Fatalf("fast encoder failed (%v) where protojson succeeds", fastErr)
	}
	var a, b any
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatalf("fast encoder wrote invalid JSON: %v\n%s", err, fast)
	}
	_ = json.Unmarshal(ref, &b)
	if d := cmp.Diff(b, a); d != "" {
		t.Fatalf("fast encoder and protojson differ (-protojson +fast):\n%s", d)
	}
}

func TestFastEncoderMatchesProtojson(t *testing.T) {
	for name, body := range map[string][]byte{"typical": stytchtest.Typical(), "full": stytchtest.Full()} {
		m := &b2bsessionv1.AttestResponse{}
		if err := RequestUnmarshalOptions.Unmarshal(body, m); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { sameJSON(t, m) })
	}
	t.Run("empty", func(t *testing.T) { sameJSON(t, &b2bsessionv1.AttestResponse{}) })
	t.Run("request", func(t *testing.T) {
		m := &b2bsessionv1.AttestRequest{}
		_ = RequestUnmarshalOptions.Unmarshal([]byte(`{"profile_id":"p","token":"t","session_duration_minutes":60,"session_custom_claims":{"a":[1,"x",null,{"b":false}]}}`), m)
		sameJSON(t, m)
	})
	for _, ts := range []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.000000001Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"} {
		t.Run("timestamp "+ts, func(t *testing.T) {
			sameJSON(t, fromJSON(t, `{"member":{"created_at":"`+ts+`"}}`))
		})
	}
}

func fromJSON(t testing.TB, s string) *b2bsessionv1.AttestResponse {
	t.Helper()
	m := &b2bsessionv1.AttestResponse{}
	if err := RequestUnmarshalOptions.Unmarshal([]byte(s), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzFastEncoderAgreesWithProtojson: random messages (any bytes that
// decode as a binary AttestResponse) render to the same JSON, or fail in
// both encoders (a NaN in a Struct, a timestamp out of range).
func FuzzFastEncoderAgreesWithProtojson(f *testing.F) {
	seed, _ := proto.Marshal(fromJSON(f, string(stytchtest.Typical())))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &b2bsessionv1.AttestResponse{}
		if proto.Unmarshal(b, m) != nil {
			return
		}
		sameJSON(t, m)
	})
}

func BenchmarkEncodeProtojson(b *testing.B) {
	m := &b2bsessionv1.AttestResponse{}
	if err := RequestUnmarshalOptions.Unmarshal(stytchtest.Typical(), m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalOptions.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
