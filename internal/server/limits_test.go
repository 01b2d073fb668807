package server_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestMetadataCap: headers beyond ATTESTD_MAX_METADATA_BYTES (16 KiB by
// default) are refused on both protocols before any handler runs, and
// never reach Stytch.
func TestMetadataCap(t *testing.T) {
	h := start(t)
	big := strings.Repeat("x", 20<<10)

	_, err := h.client.Attest(metadata.AppendToOutgoingContext(ctx(t), "x-padding", big), validRequest())
	// The server advertises its limit in HTTP/2 SETTINGS; grpc-go's client
	// then refuses to send, naming the limit.
	if st := status.Convert(err); st.Code() != codes.Internal || !strings.Contains(st.Message(), "header list size") {
		t.Errorf("gRPC with 20 KiB of metadata: %v", err)
	}

	code, _, _ := h.post(t, "/v1/b2b/sessions/attest", validJSON, "X-Padding", big)
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("REST with 20 KiB of headers: HTTP %d, want 431", code)
	}
	if n := h.stytch.Calls(); n != 0 {
		t.Errorf("%d calls reached Stytch", n)
	}
	// Within the cap, all is well.
	if _, err := h.client.Attest(metadata.AppendToOutgoingContext(ctx(t), "x-small", strings.Repeat("y", 1024)), validRequest()); err != nil {
		t.Errorf("gRPC with 1 KiB of metadata: %v", err)
	}
}
