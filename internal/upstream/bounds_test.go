package upstream_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/upstream"
)

// TestHugeStytchErrorIsBounded: a Stytch error of 900 kB (an error_message
// that size, huge error_details, long ids) reaches callers bounded on both
// protocols: the gRPC status within what clients accept in trailers, the
// REST body small, Stytch's words kept up to the cap.
func TestHugeStytchErrorIsBounded(t *testing.T) {
	details := map[string]any{}
	for i := range 2000 {
		details[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 100)
	}
	cases := []struct {
		name string
		body map[string]any
	}{
		{"900 kB error_message", map[string]any{
			"status_code": 400, "request_id": "request-id-test-1", "error_type": "invalid_trusted_auth_token",
			"error_message": strings.Repeat("The token is bad. ", 50000), "error_url": "https://stytch.com/docs",
		}},
		{"huge error_details", map[string]any{
			"status_code": 400, "request_id": "request-id-test-1", "error_type": "invalid_claims",
			"error_message": "Claims are invalid.", "error_details": details,
		}},
		{"every field huge", map[string]any{
			"status_code": 400, "request_id": strings.Repeat("r", 100000), "error_type": strings.Repeat("t", 100000),
			"error_message": strings.Repeat("é", 100000), "error_url": strings.Repeat("u", 100000), "error_details": details,
		}},
	}
	fake := stytchtest.NewServer(t)
	client := newClient(t, fake.URL, func(o *upstream.Options) { o.MaxResponseBytes = 4 << 20 })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			fake.Handle(stytchtest.Respond(http.StatusBadRequest, raw))
			e := apiErr(t, attest(t, client))
			if e.Domain != apierr.DomainStytch || e.Body.GetStatusCode() != http.StatusBadRequest {
				t.Errorf("got %q %d, want Stytch's 400", e.Domain, e.Body.GetStatusCode())
			}
			st := e.Status()
			if n := proto.Size(st.Proto()); n > 5<<10 {
				t.Errorf("gRPC status is %d bytes, want at most 5 KiB", n)
			}
			if body, _ := apierr.Details(st); body == nil || !proto.Equal(body, e.Body) {
				t.Errorf("the status details lost the body")
			}
			j, err := protojson.Marshal(e.Body)
			if err != nil || len(j) > 5<<10 {
				t.Errorf("REST body is %d bytes (%v), want at most 5 KiB", len(j), err)
			}
			msg := e.Body.GetErrorMessage()
			want := tc.body["error_message"].(string)
			if len(want) > apierr.MaxErrorMessageBytes {
				if !strings.HasSuffix(msg, "… (truncated)") || !strings.HasPrefix(want, strings.TrimSuffix(msg, "… (truncated)")) {
					t.Errorf("message %q… is not Stytch's, cut and marked", msg[:40])
				}
			} else if msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
			if e.Body.GetErrorType() != tc.body["error_type"] && len(e.Body.GetErrorType()) != apierr.MaxErrorTypeBytes {
				t.Errorf("error_type %q", e.Body.GetErrorType())
			}
		})
	}
}

// TestHugeResponseHeaders: headers count against a cap of their own (64
// KiB, not net/http's 10 MiB): 8 MiB of them fail the call with a clear
// upstream error, without attestd holding them in memory.
func TestHugeResponseHeaders(t *testing.T) {
	if n := upstream.NewTransport().MaxResponseHeaderBytes; n != 64<<10 {
		t.Fatalf("NewTransport's MaxResponseHeaderBytes is %d", n)
	}
	const huge = 8 << 20
	cases := []struct {
		name string
		// head is written before huge bytes of one header's value.
		head string
	}{
		{"one huge header", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: "},
		{"after an error status", "HTTP/1.1 500 Internal Server Error\r\nX-Pad: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chunk := []byte(strings.Repeat("a", 32<<10)) // written as is: the server allocates nothing per write
			url, requests := rawServer(t, func(c *net.TCPConn, _ *http.Request) {
				if _, err := io.WriteString(c, tc.head); err != nil {
					return
				}
				for sent := 0; sent < huge; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return // the client hung up, as it should
					}
				}
				_, _ = io.WriteString(c, "\r\nContent-Length: 2\r\n\r\n{}")
			})
			client := newClient(t, url) // the default transport

			grown, err := attestAllocating(t, client)

			e := wantTooLarge.check(t, err)
			if e.Body.GetErrorMessage() != "Stytch's answer headers exceed attestd's limit" {
				t.Errorf("message %q", e.Body.GetErrorMessage())
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
			t.Logf("allocated %d KiB refusing %d MiB of headers", grown>>10, huge>>20)
			// net/http's default cap, 10 MiB, would read all 8 MiB.
			if grown > 2<<20 {
				t.Errorf("allocated %d bytes for headers capped at %d", grown, upstream.MaxResponseHeaderBytes)
			}
		})
	}
}
