package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/attestd/attestd/internal/stytchtest"
)

// maxErrorBytes bounds an error as it leaves attestd: the REST body, and the
// google.rpc.Status carried in grpc-status-details-bin (grpc C-core clients
// such as Python's reset streams whose trailers exceed 8 KiB).
const maxErrorBytes = 8 << 10

// hugeStytchError is a Stytch 400 whose error_message is 900 kB (multi-byte
// UTF-8, so a cut must respect rune boundaries) and whose error_details hold
// about 80 kB: within attestd's 1 MiB cap on Stytch's answers.
func hugeStytchError(t *testing.T) []byte {
	t.Helper()
	details := map[string]any{}
	for i := range 1500 {
		details[fmt.Sprintf("key%04d", i)] = strings.Repeat("v", 40)
	}
	b, err := json.Marshal(map[string]any{
		"status_code":   400,
		"request_id":    "request-id-test-huge-error",
		"error_type":    "invalid_trusted_auth_token",
		"error_message": strings.Repeat("ü", 450_000),
		"error_url":     "https://stytch.com/docs/api-reference/b2b/api/errors/400#invalid_trusted_auth_token",
		"error_details": details,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 1<<20 {
		t.Fatalf("the huge error is %d bytes, over attestd's 1 MiB cap on Stytch's answers", len(b))
	}
	return b
}

// pythonGRPCError calls Attest with Debian's grpcio and the committed stubs
// and prints what arrived: the code, and the StytchError from the status
// details.
const pythonGRPCError = `
import sys, grpc
from google.rpc import status_pb2
from stytch.b2b.session.v1 import session_pb2, session_pb2_grpc
from stytch.error.v1 import error_pb2
with grpc.insecure_channel(sys.argv[1]) as ch:
    stub = session_pb2_grpc.SessionServiceStub(ch)
    try:
        stub.Attest(session_pb2.AttestRequest(profile_id="trusted-token-profile-test-attack", token="attack-token"), timeout=10)
        print("CODE OK")
    except grpc.RpcError as err:
        print("CODE", err.code().name)
        print("MESSAGE_BYTES", len((err.details() or "").encode()))
        raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
        print("DETAILS_BIN_BYTES", len(raw or b""))
        if raw:
            for any_ in status_pb2.Status.FromString(raw).details:
                if any_.Is(error_pb2.StytchError.DESCRIPTOR):
                    e = error_pb2.StytchError()
                    any_.Unpack(e)
                    print("ERROR_TYPE", e.error_type)
                    print("STATUS_CODE", e.status_code)
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
            print("DEBUG", (err.details() or "")[:300])
`

// TestBoundedErrorSizes attacks the error path with a huge Stytch error: a
// 400 whose error_message is 900 kB and whose error_details are huge. Must
// hold: the REST body is at most 8 KiB and still Stytch's error shape with
// error_type invalid_trusted_auth_token; over gRPC the status is
// InvalidArgument, its details decode to the same StytchError, and the
// google.rpc.Status (what grpc-status-details-bin carries) is at most 8 KiB;
// and Debian's Python grpcio receives the error (INVALID_ARGUMENT with the
// StytchError), not a reset stream.
func TestBoundedErrorSizes(t *testing.T) {
	needPython(t, "grpc, google.protobuf")
	fake := stytchtest.NewServer(t)
	huge := hugeStytchError(t)
	fake.Handle(stytchtest.Respond(http.StatusBadRequest, huge))
	tg := start(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := tg.rest(ctx, []byte(normalBody))
	e, shape := r.stytchError()
	if r.status != http.StatusBadRequest || e.ErrorType != "invalid_trusted_auth_token" || shape != "" {
		t.Errorf("REST: %v, want 400 invalid_trusted_auth_token %s", r, shape)
	}
	if len(r.body) > maxErrorBytes {
		t.Errorf("REST: the error body is %d bytes, want ≤ %d", len(r.body), maxErrorBytes)
	}

	_, err := tg.client.Attest(ctx, normalRequest())
	g := decodeStatus(err)
	statusBytes := proto.Size(g.st.Proto())
	if g.code != codes.InvalidArgument || g.body.GetErrorType() != "invalid_trusted_auth_token" || g.reason != "invalid_trusted_auth_token" {
		t.Errorf("gRPC: %v with StytchError %q, want InvalidArgument invalid_trusted_auth_token in the details", g, g.body.GetErrorType())
	}
	if statusBytes > maxErrorBytes {
		t.Errorf("gRPC: the status (grpc-status-details-bin) is %d bytes, want ≤ %d", statusBytes, maxErrorBytes)
	}
	t.Logf("Stytch's error %d bytes → REST body %d bytes, gRPC status %d bytes (message %d bytes, error_details %d bytes)",
		len(huge), len(r.body), statusBytes, len(g.st.Message()), proto.Size(g.body.GetErrorDetails()))

	out, perr := execPython(ctx, []string{tg.grpcAddr}, pythonGRPCError)
	t.Logf("python grpcio: %s", strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; "))
	if perr != nil {
		t.Fatalf("python grpcio: %v\n%s", perr, out)
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(string(out), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			got[k] = v
		}
	}
	if got["CODE"] != "INVALID_ARGUMENT" || got["ERROR_TYPE"] != "invalid_trusted_auth_token" {
		t.Errorf("python grpcio received %s with error_type %q, want INVALID_ARGUMENT with the StytchError (a reset stream shows as INTERNAL/UNAVAILABLE): %s",
			got["CODE"], got["ERROR_TYPE"], out)
	}
}
