package attack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/stytchtest"
)

// twoMiB is the body size of the write-first clients.
const twoMiB = 2 << 20

// writeFirst sends a whole oversized request over raw TCP before reading a
// byte, then reads the answer. chunked selects Transfer-Encoding: chunked
// instead of Content-Length.
func writeFirst(addr string, chunked bool) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	body := bytes.Repeat([]byte("x"), twoMiB)
	copy(body, `{"profile_id":"trusted-token-profile-test-attack","token":"`)
	body[len(body)-2], body[len(body)-1] = '"', '}'
	w := bufio.NewWriterSize(conn, 64<<10)
	fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", attestPath, addr)
	if chunked {
		fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
		for off := 0; off < len(body); off += 64 << 10 {
			chunk := body[off:min(off+64<<10, len(body))]
			fmt.Fprintf(w, "%x\r\n", len(chunk))
			w.Write(chunk)
			w.WriteString("\r\n")
		}
		w.WriteString("0\r\n\r\n")
	} else {
		fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body))
		w.Write(body)
	}
	if err := w.Flush(); err != nil {
		return nil, nil, fmt.Errorf("writing the 2 MiB request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer after writing the whole request: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// pythonPost2MiB posts 2 MiB with urllib.request, which writes the whole body
// before it reads the answer.
const pythonPost2MiB = `
import sys, urllib.request, urllib.error
body = b'{"profile_id":"trusted-token-profile-test-attack","token":"' + b"x" * (2 << 20) + b'"}'
req = urllib.request.Request(sys.argv[1], data=body, method="POST", headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=20) as resp:
        print("STATUS", resp.status)
        print("BODY", resp.read().decode())
except urllib.error.HTTPError as err:
    print("STATUS", err.code)
    print("BODY", err.read().decode())
except Exception as err:
    print("EXCEPTION", type(err).__name__, err)
`

// TestTooLargeWriteFirst attacks the 413 path with clients that write their
// whole request before reading anything: over raw TCP, headers and a 2 MiB
// body (with Content-Length, and chunked), then a read; and Debian's Python
// urllib.request posting 2 MiB (/usr/bin/python3 must exist: .ci/deps
// installs it; the test fails without it). Must hold: each reads 413
// request_too_large in Stytch's error shape, not a connection reset.
func TestTooLargeWriteFirst(t *testing.T) {
	needPython(t, "")
	fake := stytchtest.NewServer(t)
	tg := start(t, fake)
	check := func(what string, status int, body []byte) {
		t.Helper()
		r := restResult{status: status, body: body}
		e, shape := r.stytchError()
		if status != http.StatusRequestEntityTooLarge || e.ErrorType != "request_too_large" || shape != "" {
			t.Errorf("%s: %v, want 413 request_too_large %s", what, r, shape)
		}
	}
	for _, chunked := range []bool{false, true} {
		what := "Content-Length"
		if chunked {
			what = "chunked"
		}
		begin := time.Now()
		resp, body, err := writeFirst(tg.httpAddr, chunked)
		if err != nil {
			t.Errorf("raw TCP, %s: %v", what, err)
			continue
		}
		t.Logf("raw TCP, %s: HTTP %d after %s", what, resp.StatusCode, time.Since(begin).Round(time.Millisecond))
		check("raw TCP, "+what, resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := time.Now()
	out, err := execPython(ctx, []string{tg.restBase + attestPath}, pythonPost2MiB)
	if err != nil {
		t.Fatalf("python urllib: %v\n%s", err, out)
	}
	t.Logf("python urllib (%s): %s", time.Since(begin).Round(time.Millisecond), truncate(strings.TrimSpace(string(out)), 300))
	var status int
	var body string
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "STATUS "); ok {
			fmt.Sscan(v, &status)
		}
		if v, ok := strings.CutPrefix(line, "BODY "); ok {
			body = v
		}
	}
	if !json.Valid([]byte(body)) {
		t.Errorf("python urllib read no answer (a reset?): %s", out)
		return
	}
	check("python urllib", status, []byte(body))
	if fake.Calls() != 0 {
		t.Errorf("an oversized request reached Stytch (%d calls)", fake.Calls())
	}
}
