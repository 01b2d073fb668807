package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/testkit/logsink"
)

// dialREST opens a raw TCP connection to the REST listener, closed at test
// end.
func dialREST(t *testing.T, h *harness) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(h.rest, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestOversizedBodySeenByWriteFirstClient: a client that writes its whole
// oversized body before reading anything (Python's urllib does) reads the
// 413, not a connection reset: attestd drains a bounded part of the body
// before it closes.
func TestOversizedBodySeenByWriteFirstClient(t *testing.T) {
	h := start(t)
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"content-length", fmt.Sprintf("Content-Length: %d\r\n", 2<<20)},
		{"chunked", "Transfer-Encoding: chunked\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialREST(t, h)
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			head := "POST /v1/b2b/sessions/attest HTTP/1.1\r\nHost: attestd\r\nContent-Type: application/json\r\n" + tc.header + "\r\n"
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatal(err)
			}
			chunk := strings.Repeat("x", 64<<10)
			for range 32 { // 2 MiB in all, written before any read
				var err error
				if tc.name == "chunked" {
					_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
				} else {
					_, err = io.WriteString(c, chunk)
				}
				if err != nil {
					t.Fatalf("writing the body: %v (the connection was cut before the client could read)", err)
				}
			}
			if tc.name == "chunked" {
				_, _ = io.WriteString(c, "0\r\n\r\n")
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			m := stytchErrorOf(t, resp.StatusCode, body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || m["error_type"] != "request_too_large" {
				t.Errorf("HTTP %d %s", resp.StatusCode, body)
			}
		})
	}
	if n := h.stytch.Calls(); n != 0 {
		t.Errorf("%d calls reached Stytch", n)
	}
}

// TestSlowReaderIsCut: a client that pipelines requests and never reads an
// answer loses its connection once a write has waited ATTESTD_WRITE_TIMEOUT;
// it does not hold it (and a goroutine) forever.
func TestSlowReaderIsCut(t *testing.T) {
	h := start(t, func(c *config.Config) { c.WriteTimeout = 300 * time.Millisecond })
	c := dialREST(t, h)
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(4 << 10) // fill up sooner
	}
	req := "POST /v1/b2b/sessions/attest HTTP/1.1\r\nHost: attestd\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(validJSON), validJSON)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		_ = c.SetWriteDeadline(deadline)
		_, err := io.WriteString(c, req)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("after %d requests attestd still holds the connection of a client that never reads", i)
		}
		t.Logf("cut after %d pipelined requests: %v", i, err)
		return
	}
}

// TestShutdownCutsHeldConnections: when the grace ends, connections still
// held (a reader slower than the write bound allows for) are closed, the
// log says how many, and Shutdown reports success.
func TestShutdownCutsHeldConnections(t *testing.T) {
	logs := &logsink.Logs{}
	h := startLogging(t, logs, func(c *config.Config) {
		c.WriteTimeout = time.Minute
		c.ShutdownGrace = 500 * time.Millisecond
	})
	c := dialREST(t, h)
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(4 << 10)
	}
	req := "POST /v1/b2b/sessions/attest HTTP/1.1\r\nHost: attestd\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(validJSON), validJSON)
	// Pipeline until the writes block: attestd is then stuck writing to us.
	for {
		_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := io.WriteString(c, req); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	// The writes blocking says attestd stopped reading, not yet that it
	// is stuck writing: it may still be working through requests it read.
	// It is stuck once it calls Stytch no more.
	waitQuiet(t, h.stytch.Calls)
	began := time.Now()
	if err := h.srv.Shutdown(); err != nil {
		t.Errorf("shutdown with a held connection: %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("shutdown took %v with a 500ms grace", took)
	}
	found := false
	for _, l := range logs.Lines(t) {
		if l["msg"] == "connections still held at the end of the shutdown grace were closed" {
			found = true
			if n, _ := l["rest_connections"].(float64); n < 1 {
				t.Errorf("rest_connections = %v", l["rest_connections"])
			}
		}
	}
	if !found {
		t.Errorf("no log line counts the cut connections:\n%s", logs.String())
	}
}

// waitQuiet returns once count has not changed for half a second (at most
// 20 s): the only outward sign that a server stopped making progress.
func waitQuiet(t *testing.T, count func() int64) {
	t.Helper()
	last, since := count(), time.Now()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 500*time.Millisecond {
			return
		}
	}
	t.Fatalf("still busy after 20s (%d)", last)
}

// TestShutdownStopsGRPCWhileRESTDrains: once shutdown begins, gRPC takes no
// new call even while a REST call is still being served.
func TestShutdownStopsGRPCWhileRESTDrains(t *testing.T) {
	h := start(t)
	entered, release := h.holdStytch()
	restDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, h.rest+"/v1/b2b/sessions/attest", strings.NewReader(validJSON))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			restDone <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		restDone <- resp.StatusCode
	}()
	<-entered
	shut := h.beginShutdown(t)
	c, cancel := context.WithTimeout(ctx(t), 5*time.Second)
	defer cancel()
	// A new call while the REST call is still held at Stytch.
	if _, err := h.client.Attest(c, validRequest()); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC call during shutdown: %v, want Unavailable", err)
	}
	close(release)
	if code := <-restDone; code != http.StatusOK {
		t.Errorf("in-flight REST call: HTTP %d", code)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestRESTInFlightCap: REST calls beyond what the upstream stage can hold
// are shed before they are decoded.
func TestRESTInFlightCap(t *testing.T) {
	h := start(t, func(c *config.Config) { c.UpstreamMaxConcurrent, c.UpstreamMaxQueue = 1, 0 })
	entered, release := h.holdStytch()
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(h.rest+"/v1/b2b/sessions/attest", "application/json", strings.NewReader(validJSON))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	code, hdr, body := h.post(t, "/v1/b2b/sessions/attest", validJSON)
	m := stytchErrorOf(t, code, body)
	if code != http.StatusServiceUnavailable || m["error_type"] != "upstream_overloaded" ||
		!strings.Contains(fmt.Sprint(m["error_message"]), "REST calls") || hdr.Get("Retry-After") != "1" {
		t.Errorf("second REST call: HTTP %d %s (Retry-After %q)", code, body, hdr.Get("Retry-After"))
	}
	close(release)
	if c := <-first; c != http.StatusOK {
		t.Errorf("first call: HTTP %d", c)
	}
	// Refused before the chain, it is logged and counted as the chain's
	// refusals are.
	logged := false
	for _, l := range h.logs.Lines(t) {
		if l["msg"] == "call" && l["error_type"] == "upstream_overloaded" && l["method"] == "/stytch.b2b.session.v1.SessionService/Attest" &&
			l["request_id"] == hdr.Get("X-Request-Id") && l["peer"] == "127.0.0.1" {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no call line for the shed call:\n%s", h.logs.String())
	}
	c := series(t, scrape(t, h), "attestd_attest_calls_total", map[string]string{"protocol": "rest", "error_type": "upstream_overloaded"})
	if c.GetCounter().GetValue() != 1 {
		t.Errorf("attestd_attest_calls_total{rest,upstream_overloaded} = %v, want 1", c.GetCounter().GetValue())
	}
}
