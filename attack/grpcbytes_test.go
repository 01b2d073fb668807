package attack

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestBadGRPCBytes attacks the gRPC decoder with bytes no protobuf encoder
// would produce: a token field (a proto3 string) holding invalid UTF-8, and
// non-protobuf garbage, sent as the raw message with a raw codec. Must hold:
// each gets InvalidArgument (not grpc-go's Internal), nothing reaches
// Stytch, and each is logged like any other refused attest: at the default
// level by its audit event, with its request_id and code InvalidArgument
// (its "call" line is debug, as for every attest failing at info).
func TestBadGRPCBytes(t *testing.T) {
	fake := stytchtest.NewServer(t)
	tg := start(t, fake)
	var badUTF8 []byte
	badUTF8 = protowire.AppendTag(badUTF8, 1, protowire.BytesType)
	badUTF8 = protowire.AppendString(badUTF8, "trusted-token-profile-test-attack")
	badUTF8 = protowire.AppendTag(badUTF8, 2, protowire.BytesType)
	badUTF8 = protowire.AppendBytes(badUTF8, []byte("attack\xff\xfe-token"))
	cases := []struct {
		name string
		msg  []byte
	}{
		{"InvalidUTF8", badUTF8},
		{"Garbage", []byte("garbage, not protobuf\xff\xff\xff\xff")},
		{"TruncatedField", []byte{0x0a, 0x7f, 'p'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id := "attack-bad-bytes-" + tc.name
			from := tg.logs.mark()
			g := decodeStatus(tg.invokeRaw(withRequestID(ctx, id), tc.msg))
			if g.code != codes.InvalidArgument {
				t.Errorf("%d bytes: %v, want InvalidArgument", len(tc.msg), g)
			}
			line := tg.logs.wait(from, 5*time.Second, func(m map[string]any) bool {
				return m["msg"] == "audit" && m["request_id"] == id
			})
			if line == nil {
				t.Errorf("no \"audit\" log event with request_id %s within 5 s", id)
			} else if line["code"] != "InvalidArgument" || line["outcome"] != "failure" {
				t.Errorf("its audit event says code %v outcome %v, want InvalidArgument failure: %v", line["code"], line["outcome"], line)
			}
			t.Logf("%s → %v; log: level=%v code=%v error_type=%v", tc.name, g, line["level"], line["code"], line["error_type"])
		})
	}
	if n := fake.Calls(); n != 0 {
		t.Errorf("Stytch saw %d calls from undecodable requests", n)
	}
}
