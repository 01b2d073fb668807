package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/attestd/attestd/internal/stytchtest"
)

// TestGracefulShutdownUnderLoad: 16 gRPC and 16 REST callers in a loop;
// shutdown begins mid-stream. Every call that reached Stytch gets its answer
// back (no lost responses), every other call is refused cleanly
// (Unavailable, or a refused connection), and shutdown ends well within the
// grace period.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	h := start(t)
	var reached, answered atomic.Int64
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		stytchtest.Respond(200, stytchtest.Typical()).ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	unexpected := make(chan string, 64)
	warm := make(chan struct{})
	var warmOnce sync.Once
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var err error
				code := codes.OK
				if w%2 == 0 {
					_, err = h.client.Attest(ctx, validRequest())
					code = status.Code(err)
				} else {
					var resp *http.Response
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.rest+"/v1/b2b/sessions/attest",
						strings.NewReader(`{"profile_id":"p","token":"t"}`))
					if resp, err = client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							code = codes.Unavailable
							if resp.StatusCode != http.StatusServiceUnavailable {
								code = codes.Unknown
							}
						}
					}
				}
				switch {
				case err == nil && code == codes.OK:
					if answered.Add(1) == 200 {
						warmOnce.Do(func() { close(warm) })
					}
					ok.Add(1)
				case code == codes.Unavailable || (w%2 == 1 && err != nil):
					refused.Add(1)
					return // the server is going away
				default:
					unexpected <- err.Error()
					return
				}
			}
		}()
	}
	<-warm
	began := time.Now()
	if err := h.srv.Shutdown(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	took := time.Since(began)
	wg.Wait()
	close(unexpected)
	for e := range unexpected {
		t.Errorf("unexpected outcome: %s", e)
	}
	if ok.Load() != reached.Load() {
		t.Errorf("%d calls reached Stytch but %d answers came back", reached.Load(), ok.Load())
	}
	if refused.Load() != 32 {
		t.Errorf("%d callers saw the refusal, want all 32", refused.Load())
	}
	if took > 5*time.Second {
		t.Errorf("shutdown took %v, more than the 5s grace", took)
	}
	t.Logf("%d calls answered, shutdown took %v", ok.Load(), took)
}
