package attack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/proctest"
)

// full selects the full size of every attack (see the package doc).
var full = flag.Bool("attack.full", false, "run the full-size attacks: larger counts, concurrency and durations")

// binFlag attacks a given attestd binary instead of building cmd/attestd
// (another build, an older commit, a release).
var binFlag = flag.String("attack.bin", "", "attack this attestd binary instead of building ./cmd/attestd")

// bin is the attestd binary built once for all tests (TestMain); root is the
// repository.
var bin, root string

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Dir(filepath.Dir(file))
	flag.Parse()
	// Listing tests (make fuzz asks every package for its fuzzers) needs no
	// binary.
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	if *binFlag != "" {
		bin = *binFlag
		os.Exit(m.Run())
	}
	proctest.MainWithAttestd(m, "github.com/attestd/attestd/cmd/attestd", &bin)
}

// size picks the short or the full value.
func size[T any](short, fullSize T) T {
	if *full {
		return fullSize
	}
	return short
}

// attestPath is the REST route (Stytch's own).
const attestPath = "/v1/b2b/sessions/attest"

// attestMethod is the gRPC method.
const attestMethod = "/stytch.b2b.session.v1.SessionService/Attest"

// normalBody is a well-formed REST request; the fake Stytch does not check
// the token.
const normalBody = `{"profile_id":"trusted-token-profile-test-attack","token":"attack-token"}`

// normalRequest is the same over gRPC.
func normalRequest() *b2bsessionv1.AttestRequest {
	return &b2bsessionv1.AttestRequest{ProfileId: "trusted-token-profile-test-attack", Token: "attack-token"}
}

// target is a running attestd under attack.
type target struct {
	proc                *proctest.Proc
	serving             map[string]any
	grpcAddr, httpAddr  string
	adminAddr           string
	conn                *grpc.ClientConn
	client              b2bsessionv1.SessionServiceClient
	http                *http.Client
	logs                *logWatch
	pid                 int
	restBase, adminBase string
}

// fakeEnv points attestd at a fake Stytch.
func fakeEnv(fake *stytchtest.Server) []string {
	return []string{
		"STYTCH_PROJECT_ID=" + stytchtest.ProjectID,
		"STYTCH_SECRET=" + stytchtest.Secret,
		"STYTCH_BASE_URL=" + fake.URL,
	}
}

// start runs the built attestd on free loopback ports with env added (nil
// fake: emulator mode) and connects a gRPC client and an HTTP client to it.
// Everything is stopped when the test ends.
func start(t *testing.T, fake *stytchtest.Server, env ...string) *target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	all := []string{"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0"}
	if fake != nil {
		all = append(all, fakeEnv(fake)...)
	}
	all = append(all, env...)
	p, serving := proctest.Start(t, ctx, bin, nil, all, "attestd serving")
	tg := &target{
		proc: p, serving: serving,
		grpcAddr:  serving["grpc_addr"].(string),
		httpAddr:  serving["http_addr"].(string),
		adminAddr: fmt.Sprint(serving["admin_addr"]),
		pid:       p.Cmd.Process.Pid,
		logs:      watchLogs(p),
	}
	tg.restBase = "http://" + tg.httpAddr
	tg.adminBase = "http://" + tg.adminAddr
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0, DisableCompression: true}
	tg.http = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	conn, err := grpc.NewClient(tg.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tg.conn, tg.client = conn, b2bsessionv1.NewSessionServiceClient(conn)
	return tg
}

// configValue is a setting from the configuration dump of the serving line.
func (tg *target) configValue(key string) (any, bool) {
	cfg, _ := tg.serving["config"].(map[string]any)
	v, ok := cfg[key]
	return v, ok
}

// restResult is one REST answer.
type restResult struct {
	status int
	header http.Header
	body   []byte
	err    error
	took   time.Duration
}

// errBody is Stytch's error shape, decoded.
type errBody struct {
	StatusCode   int            `json:"status_code"`
	RequestID    string         `json:"request_id"`
	ErrorType    string         `json:"error_type"`
	ErrorMessage string         `json:"error_message"`
	ErrorURL     string         `json:"error_url"`
	ErrorDetails map[string]any `json:"error_details"`
}

// stytchError decodes the body as Stytch's error shape and reports what is
// wrong with it ("" when it is one: every key present, status_code equal to
// the HTTP status).
func (r restResult) stytchError() (errBody, string) {
	var e errBody
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &keys); err != nil {
		return e, fmt.Sprintf("body is not a JSON object: %v: %.200q", err, r.body)
	}
	for _, k := range []string{"status_code", "request_id", "error_type", "error_message", "error_url"} {
		if _, ok := keys[k]; !ok {
			return e, fmt.Sprintf("body lacks %s: %.300s", k, r.body)
		}
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		return e, fmt.Sprintf("body does not decode as Stytch's error: %v", err)
	}
	if e.StatusCode != r.status {
		return e, fmt.Sprintf("status_code %d differs from HTTP %d", e.StatusCode, r.status)
	}
	return e, ""
}

func (r restResult) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("HTTP %d %.300s", r.status, r.body)
}

// rest posts body to the attest route with the given headers (pairs).
func (tg *target) rest(ctx context.Context, body []byte, headers ...string) restResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.restBase+attestPath, bytes.NewReader(body))
	if err != nil {
		return restResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := tg.http.Do(req)
	if err != nil {
		return restResult{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return restResult{status: resp.StatusCode, header: resp.Header, body: b, err: err, took: time.Since(start)}
}

// grpcError is a gRPC status with its details decoded.
type grpcError struct {
	code   codes.Code
	st     *status.Status
	body   *errorv1.StytchError
	info   *errdetails.ErrorInfo
	retry  *errdetails.RetryInfo
	reason string
}

func decodeStatus(err error) grpcError {
	st := status.Convert(err)
	g := grpcError{code: st.Code(), st: st}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errorv1.StytchError:
			g.body = d
		case *errdetails.ErrorInfo:
			g.info = d
			g.reason = d.GetReason()
		case *errdetails.RetryInfo:
			g.retry = d
		}
	}
	return g
}

func (g grpcError) String() string {
	return fmt.Sprintf("%s %q reason=%q", g.code, truncate(g.st.Message(), 200), g.reason)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// withRequestID adds an x-request-id to a gRPC call's metadata.
func withRequestID(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
}

// normalCalls checks that a normal call succeeds over both protocols.
func (tg *target) normalCalls(t *testing.T, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r := tg.rest(ctx, []byte(normalBody)); r.err != nil || r.status != http.StatusOK {
		t.Errorf("%s: a normal REST call: %v", what, r)
	}
	if _, err := tg.client.Attest(ctx, normalRequest()); err != nil {
		t.Errorf("%s: a normal gRPC call: %v", what, decodeStatus(err))
	}
}

// get fetches a path of the admin listener.
func (tg *target) get(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.adminBase+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// scrape is the admin listener's /metrics.
func (tg *target) scrape(t *testing.T) metrics {
	t.Helper()
	code, body, err := tg.get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape /metrics: %d %v", code, err)
	}
	return parseMetrics(body)
}

// sample is one line of the Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type metrics []sample

func (s sample) String() string {
	keys := make([]string, 0, len(s.labels))
	for k, v := range s.labels {
		keys = append(keys, k+"="+strconv.Quote(v))
	}
	slices.Sort(keys)
	return fmt.Sprintf("%s{%s} %v", s.name, strings.Join(keys, ","), s.value)
}

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseMetrics(text string) metrics {
	var out metrics
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		var name, labels, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, labels, rest = line[:i], line[i+1:j], line[j+1:]
		} else {
			name, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s := sample{name: name, labels: map[string]string{}, value: v}
		for _, m := range labelRE.FindAllStringSubmatch(labels, -1) {
			s.labels[m[1]] = m[2]
		}
		out = append(out, s)
	}
	return out
}

// sum adds the samples of name whose labels include every pair given; ok
// is false when there is none.
func (ms metrics) sum(name string, pairs ...string) (float64, bool) {
	var total float64
	found := false
next:
	for _, s := range ms {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			if s.labels[pairs[i]] != pairs[i+1] {
				continue next
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

// matching lists the samples whose line mentions s (name or a label value).
func (ms metrics) matching(s string) []sample {
	var out []sample
	for _, m := range ms {
		hit := strings.Contains(m.name, s)
		for _, v := range m.labels {
			hit = hit || strings.Contains(v, s)
		}
		if hit {
			out = append(out, m)
		}
	}
	return out
}

// memory reads VmHWM (peak) and VmRSS (now) of pid, in bytes.
func memory(t *testing.T, pid int) (hwm, rss int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/status: %v", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = kb << 10
		case "VmRSS:":
			rss = kb << 10
		}
	}
	return hwm, rss
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// logWatch keeps every log line attestd writes after "attestd serving", as
// they arrive, and lets a test wait for one.
type logWatch struct {
	mu      sync.Mutex
	lines   []map[string]any
	changed chan struct{}
	closed  bool
	// finished is closed once attestd's stderr is drained (it exited).
	finished chan struct{}
}

func watchLogs(p *proctest.Proc) *logWatch {
	w := &logWatch{changed: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		for m := range p.Lines {
			w.mu.Lock()
			w.lines = append(w.lines, m)
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.closed = true
		close(w.changed)
		w.mu.Unlock()
	}()
	return w
}

// mark is how many lines have been seen; wait can start from it.
func (w *logWatch) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// wait returns the first line from index from on that matches, or nil when
// none arrives within d.
func (w *logWatch) wait(from int, d time.Duration, match func(map[string]any) bool) map[string]any {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for i := from; ; {
		w.mu.Lock()
		for ; i < len(w.lines); i++ {
			if match(w.lines[i]) {
				m := w.lines[i]
				w.mu.Unlock()
				return m
			}
		}
		ch, closed := w.changed, w.closed
		w.mu.Unlock()
		if closed {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil
		}
	}
}

// parseLogLines parses JSON log text (from Proc.Stop) into lines.
func parseLogLines(text string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(text, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// stopWithin sends SIGTERM and waits at most d for the process to exit. It
// returns everything the process logged, how long the exit took and whether
// it exited with code 0 in time; a process still running after d is killed.
func (tg *target) stopWithin(t *testing.T, d time.Duration) (logs string, took time.Duration, clean bool) {
	t.Helper()
	start := time.Now()
	p := tg.proc
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	// stderr reaches EOF when the process exits; only then may Wait close
	// the pipe (Proc.Stop would send a second SIGTERM and wait unbounded).
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-tg.logs.finished:
		took = time.Since(start)
	case <-timer.C:
		took = time.Since(start)
		t.Errorf("attestd still running %s after SIGTERM; killing it", d)
		_ = p.Cmd.Process.Kill()
		<-tg.logs.finished
	}
	err := p.Cmd.Wait()
	clean = err == nil && took < d
	if err != nil {
		t.Errorf("attestd exited with %v after SIGTERM (want exit code 0)", err)
	}
	return tg.allLogs(), took, clean
}

// allLogs is every line the watcher kept, re-serialised.
func (tg *target) allLogs() string {
	tg.logs.mu.Lock()
	defer tg.logs.mu.Unlock()
	var b strings.Builder
	for _, m := range tg.logs.lines {
		j, _ := json.Marshal(m)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// rawCodec sends and receives bytes as they are: the gRPC message is
// whatever the test built, valid protobuf or not.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// invokeRaw calls Attest with msg as the request's bytes.
func (tg *target) invokeRaw(ctx context.Context, msg []byte) error {
	var out []byte
	return tg.conn.Invoke(ctx, attestMethod, &msg, &out, grpc.ForceCodecV2(rawCodec{}))
}

// smallBufDialer dials with tiny socket buffers, set before connect so the
// advertised window stays small and the client's writes block soon after
// attestd stops reading.
func smallBufDialer(bytes int) *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = errors.Join(
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes),
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, bytes))
		})
		if err != nil {
			return err
		}
		return serr
	}}
}

// python is Debian's interpreter, with python3-grpcio and python3-protobuf
// (.ci/deps installs them).
const python = "/usr/bin/python3"

// needPython fails the test (never skips) without Debian's python3.
func needPython(t *testing.T, modules string) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: run `bash .ci/deps` (as root it installs python3, python3-grpcio, python3-protobuf)", python)
	}
	if modules == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := execPython(ctx, nil, "import "+modules); err != nil {
		t.Fatalf("%s cannot import %s (%v): apt-get install python3-grpcio python3-protobuf (or `bash .ci/deps`)\n%s", python, modules, err, out)
	}
}

// execPython runs Debian's python3 -c script args…, with gen/python on
// PYTHONPATH and no bytecode written into the tree.
func execPython(ctx context.Context, args []string, script string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, python, append([]string{"-c", script}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH="+filepath.Join(root, "gen", "python"))
	return cmd.CombinedOutput()
}
