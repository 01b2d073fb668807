package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/stytchtest"
)

// faultyStytch answers like Stytch, with faults injected by request
// number: a 500 error body, a 429 to retry at once, a truncated answer, a
// connection dropped mid-body.
func faultyStytch(t *testing.T) http.Handler {
	var n atomic.Int64
	ok := stytchtest.Respond(200, stytchtest.Typical())
	fail := stytchtest.Error(500, "internal_server_error", "injected")
	typical := string(stytchtest.Typical())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		i := n.Add(1)
		switch {
		case i%10 == 3:
			fail.ServeHTTP(w, r)
		case i%10 == 6:
			w.Header().Set("Retry-After", "0")
			stytchtest.Error(429, "too_many_requests", "injected").ServeHTTP(w, r)
		case i%10 == 8:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, typical[:len(typical)/2])
		case i%20 == 9:
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(typical), typical[:100])
			buf.Flush()
			conn.Close()
		default:
			ok.ServeHTTP(w, r)
		}
	})
}

// lineCounter is an io.Writer that counts log lines and keeps none.
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(strings.Count(string(p), "\n")))
	return len(p), nil
}

// rssKiB is this process's resident set size.
func rssKiB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: RSS cannot be measured here")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// TestSoak drives ATTESTD_SOAK_CALLS calls (default 1000; make unit, what
// CI runs, asks for 4000) at a steady concurrency of 32 (16 gRPC, 16 REST)
// through attestd in front of a Stytch that fails one call in four. Every
// call gets an answer, every answer has an expected code, and goroutines
// and RSS stay flat.
func TestSoak(t *testing.T) {
	total := int64(1000)
	if v, err := strconv.ParseInt(os.Getenv("ATTESTD_SOAK_CALLS"), 10, 64); err == nil && v > 0 {
		total = v
	}
	var logLines lineCounter // every call is logged; the lines are counted, not kept
	h := startLogging(t, &logLines, func(c *config.Config) { c.BreakerCooldown = 50 * time.Millisecond })
	h.stytch.Handle(faultyStytch(t))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	expected := map[codes.Code]bool{codes.OK: true, codes.Internal: true, codes.Unavailable: true, codes.ResourceExhausted: true}
	restCode := map[int]codes.Code{200: codes.OK, 500: codes.Internal, 502: codes.Internal, 503: codes.Unavailable, 429: codes.ResourceExhausted}
	var next, answered atomic.Int64
	var mu sync.Mutex
	counts := map[string]int64{}
	unexpected := []string{}
	record := func(proto string, c codes.Code, detail string) {
		mu.Lock()
		defer mu.Unlock()
		counts[proto+" "+c.String()]++
		if !expected[c] && len(unexpected) < 10 {
			unexpected = append(unexpected, proto+": "+detail)
		}
	}
	type sample struct {
		calls           int64
		goroutines      int
		rssKiB, heapKiB int64
	}
	var samples []sample
	takeSample := func() {
		runtime.GC() // live heap, not garbage waiting for the next cycle
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{answered.Load(), runtime.NumGoroutine(), rssKiB(t), int64(ms.HeapInuse >> 10)})
	}
	takeSample()
	began := time.Now()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if w%2 == 0 {
					_, err := h.client.Attest(ctx, validRequest())
					record("grpc", status.Code(err), fmt.Sprint(err))
				} else {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.rest+"/v1/b2b/sessions/attest", strings.NewReader(validJSON))
					resp, err := client.Do(req)
					if err != nil {
						record("rest", codes.Unknown, err.Error())
					} else {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						c, ok := restCode[resp.StatusCode]
						if !ok {
							c = codes.Unknown
						}
						record("rest", c, resp.Status)
					}
				}
				cancel()
				if a := answered.Add(1); a%(total/4) == 0 {
					mu.Lock()
					takeSample()
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	client.CloseIdleConnections()

	for _, u := range unexpected {
		t.Errorf("unexpected outcome: %s", u)
	}
	if answered.Load() != total {
		t.Errorf("%d calls answered of %d", answered.Load(), total)
	}
	t.Logf("soak: %d calls in %v (%.0f calls/s), %d log lines, outcomes %v", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds(), logLines.n.Load(), counts)
	for _, s := range samples {
		t.Logf("soak: after %6d calls: %4d goroutines, RSS %6d KiB, heap in use %6d KiB", s.calls, s.goroutines, s.rssKiB, s.heapKiB)
	}
	// Flat: from the first quarter to the end, the heap in use grows by
	// less than 8 MiB, RSS (without the race detector) by less than 16 MiB,
	// and the goroutine count by less than 64 (one per caller, plus
	// connections of either side).
	if len(samples) >= 3 {
		q, last := samples[1], samples[len(samples)-1]
		if last.heapKiB-q.heapKiB > 8<<10 {
			t.Errorf("heap in use grew from %d KiB to %d KiB", q.heapKiB, last.heapKiB)
		}
		if !raceEnabled && last.rssKiB-q.rssKiB > 16<<10 {
			t.Errorf("RSS grew from %d KiB to %d KiB", q.rssKiB, last.rssKiB)
		}
		if last.goroutines-q.goroutines > 64 {
			t.Errorf("goroutines grew from %d to %d", q.goroutines, last.goroutines)
		}
	}
}
