package attack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/stytchtest"
)

// pipelinedRequest is one REST request for a raw connection: a normal
// attest body padded with JSON whitespace to about 32 KiB, so that a few of
// them fill attestd's receive buffer once it stops reading.
func pipelinedRequest(host string) []byte {
	body := `{"profile_id":"trusted-token-profile-test-attack",` + strings.Repeat(" ", 32<<10) + `"token":"attack-token"}`
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		attestPath, host, len(body), body)
}

// bigAnswer is Stytch's typical answer with about 512 KiB of
// member.trusted_metadata: each REST answer then fills attestd's socket
// buffers after a handful of calls instead of hundreds.
func bigAnswer(t *testing.T) []byte {
	t.Helper()
	var answer map[string]any
	if err := json.Unmarshal(stytchtest.Typical(), &answer); err != nil {
		t.Fatal(err)
	}
	member := answer["member"].(map[string]any)
	member["trusted_metadata"] = map[string]any{"blob": strings.Repeat("x", 512<<10)}
	b, err := json.Marshal(answer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readerOutcome is how a never-reading pipelining client ended.
type readerOutcome struct {
	requests int           // whole requests written
	blocked  bool          // a write made no progress for stallFor
	cut      bool          // attestd closed the connection (write error)
	err      error         // the write error when cut, or a dial error
	after    time.Duration // from dial to blocked or cut
}

// stallFor is how long a write must make no progress for the client to
// count as blocked: far longer than attestd takes to serve one request.
const stallFor = time.Second

// slowReader dials attestd's REST port with a tiny receive buffer and
// pipelines requests without ever reading, until a write makes no progress
// for stallFor (untilCut false), or until attestd cuts the connection
// (untilCut true; stalls are then waited through). At most maxRequests
// requests and until the deadline. The connection stays open for the test.
func slowReader(t *testing.T, addr string, untilCut bool, maxRequests int, deadline time.Time) readerOutcome {
	conn, err := smallBufDialer(4096).Dial("tcp", addr)
	if err != nil {
		return readerOutcome{err: err}
	}
	t.Cleanup(func() { conn.Close() })
	begin := time.Now()
	req := pipelinedRequest(addr)
	var out readerOutcome
	pending := req
	for out.requests < maxRequests && time.Now().Before(deadline) {
		_ = conn.SetWriteDeadline(time.Now().Add(stallFor))
		n, err := conn.Write(pending)
		pending = pending[n:]
		if len(pending) == 0 {
			out.requests++
			pending = req
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			if n == 0 && !untilCut {
				out.blocked, out.after = true, time.Since(begin)
				return out
			}
		default:
			out.cut, out.err, out.after = true, err, time.Since(begin)
			return out
		}
	}
	return out
}

// slowReaders runs n slowReaders side by side.
func slowReaders(t *testing.T, addr string, n int, untilCut bool) []readerOutcome {
	out := make([]readerOutcome, n)
	// Blocking takes a few seconds of attestd serving big answers; a cut
	// by a 300 ms write timeout must come within 10 s.
	deadline := time.Now().Add(size(30*time.Second, 2*time.Minute))
	if untilCut {
		deadline = time.Now().Add(12 * time.Second)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = slowReader(t, addr, untilCut, 5000, deadline) }()
	}
	wg.Wait()
	return out
}

// TestSlowReadersAtShutdown attacks graceful shutdown with clients that
// pipeline REST requests over raw TCP with a small SO_RCVBUF and never read,
// until their writes block (attestd is stuck writing answers nobody reads).
// With a long ATTESTD_WRITE_TIMEOUT and ATTESTD_SHUTDOWN_GRACE=1s, SIGTERM
// must end the process with exit code 0 (not 1, "unclean shutdown") within
// the grace plus a few seconds, and its log must say how many connections it
// closed ("connections still held at the end of the shutdown grace were
// closed", rest_connections ≥ the slow readers). With
// ATTESTD_WRITE_TIMEOUT=300ms, attestd must cut each such connection by
// itself, well before any shutdown, and then stop cleanly with nothing left
// to cut.
func TestSlowReadersAtShutdown(t *testing.T) {
	readers := size(4, 64)

	t.Run("CutAtTheEndOfTheGrace", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		fake.Handle(stytchtest.Respond(http.StatusOK, bigAnswer(t)))
		const grace = time.Second
		tg := start(t, fake, "ATTESTD_SHUTDOWN_GRACE=1s", "ATTESTD_WRITE_TIMEOUT=10m")
		begin := time.Now()
		outs := slowReaders(t, tg.httpAddr, readers, false)
		requests := 0
		for i, o := range outs {
			requests += o.requests
			if !o.blocked {
				t.Fatalf("slow reader %d never blocked: %+v", i, o)
			}
		}
		t.Logf("%d slow readers blocked after %s (%d requests pipelined); Stytch served %d calls",
			readers, time.Since(begin).Round(time.Millisecond), requests, fake.Calls())
		_, rss := memory(t, tg.pid)

		logs, took, clean := tg.stopWithin(t, grace+4*time.Second)
		t.Logf("SIGTERM → exit in %s (grace %s), clean %v; RSS before SIGTERM %s", took.Round(time.Millisecond), grace, clean, mib(rss))
		if strings.Contains(logs, `"msg":"unclean shutdown"`) {
			t.Errorf("attestd logged an unclean shutdown")
		}
		var cut map[string]any
		for _, m := range parseLogLines(logs) {
			if m["msg"] == "connections still held at the end of the shutdown grace were closed" {
				cut = m
			}
		}
		if cut == nil {
			t.Fatalf("no line saying how many connections were closed at the end of the grace:\n%s", tail(logs, 20))
		}
		restCut, _ := cut["rest_connections"].(float64)
		_, ok := cut["grpc_connections"].(float64)
		t.Logf("closed at the end of the grace: rest_connections=%v grpc_connections=%v", cut["rest_connections"], cut["grpc_connections"])
		if int(restCut) < readers || !ok {
			t.Errorf("the line says rest_connections=%v grpc_connections=%v, want rest_connections ≥ %d (the slow readers)",
				cut["rest_connections"], cut["grpc_connections"], readers)
		}
	})

	t.Run("CutByTheWriteTimeout", func(t *testing.T) {
		fake := stytchtest.NewServer(t)
		fake.Handle(stytchtest.Respond(http.StatusOK, bigAnswer(t)))
		const writeTimeout = 300 * time.Millisecond
		tg := start(t, fake, "ATTESTD_SHUTDOWN_GRACE=10s", "ATTESTD_WRITE_TIMEOUT=300ms")
		outs := slowReaders(t, tg.httpAddr, readers, true)
		var slowest time.Duration
		for i, o := range outs {
			if !o.cut {
				t.Errorf("slow reader %d was never cut: %+v", i, o)
			}
			slowest = max(slowest, o.after)
		}
		t.Logf("%d slow readers cut by the %s write timeout; the last after %s (first error: %v)",
			readers, writeTimeout, slowest.Round(time.Millisecond), outs[0].err)
		if slowest > 10*time.Second {
			t.Errorf("a slow reader held its connection %s despite ATTESTD_WRITE_TIMEOUT=300ms", slowest)
		}
		logs, took, _ := tg.stopWithin(t, 5*time.Second)
		t.Logf("SIGTERM → exit in %s", took.Round(time.Millisecond))
		for _, m := range parseLogLines(logs) {
			if m["msg"] == "connections still held at the end of the shutdown grace were closed" {
				t.Errorf("connections were still held at shutdown although the write timeout should have cut them: %v", m)
			}
		}
	})
}

// tail is the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
