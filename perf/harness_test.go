package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes the test binary behave as the perf command, so the
// harness can be run as a process of its own, with its subcommands
// (os.Executable is then the test binary).
const runMainEnv = "PERF_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHarnessLeavesNothingRunning runs the harness briefly (nginx and the
// floor, one concurrency level, 1 s) and checks that no process it started,
// nginx's workers included, outlives it: when it completes, when it is
// interrupted (Ctrl-C) mid-run, and when it is killed outright.
func TestHarnessLeavesNothingRunning(t *testing.T) {
	for _, tool := range []string{"nginx", "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run `bash .ci/deps` (apt-get install nginx-light wrk)", tool)
		}
	}
	args := []string{"-d", "1s", "-warmup", "0", "-c", "4", "-runs", "1", "-only", "nginx,floor"}

	t.Run("completes", func(t *testing.T) {
		h := startHarness(t, args)
		if err := h.wait(t); err != nil {
			t.Fatalf("harness: %v\nstderr:\n%s", err, h.stderr())
		}
		out := h.stdout.String()
		rows := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				rows[f[0]] = true
			}
		}
		if !rows["nginx"] || !rows["floor"] {
			t.Errorf("want an nginx and a floor row in the table:\n%s", out)
		}
		h.checkNothingLeft(t)
	})

	t.Run("interrupted", func(t *testing.T) {
		h := startHarness(t, args)
		h.waitMeasuring(t)
		// As Ctrl-C at a terminal: SIGINT to the harness's process group.
		if err := syscall.Kill(-h.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err := h.wait(t)
		if err == nil || !strings.Contains(h.stderr(), "interrupted") {
			t.Errorf("harness after SIGINT: %v, want it to fail saying interrupted\nstderr:\n%s", err, h.stderr())
		}
		h.checkNothingLeft(t)
	})

	t.Run("killed", func(t *testing.T) {
		h := startHarness(t, args)
		h.waitMeasuring(t)
		// No chance to clean up: its children go with it (Pdeathsig), and
		// nginx's master takes its workers down.
		if err := syscall.Kill(h.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = h.wait(t)
		h.checkNothingLeft(t)
	})
}

// harnessRun is the harness running as a process, and the processes seen
// descending from it.
type harnessRun struct {
	cmd    *exec.Cmd
	dir    string // its TMPDIR: its temporary directory is inside
	stdout bytes.Buffer

	mu       sync.Mutex
	errLines []string
	measured chan struct{} // closed at the first measurement's progress line
	seen     map[[2]uint64]procInfo
	stopScan chan struct{}
	scanned  chan struct{}
}

func startHarness(t *testing.T, args []string) *harnessRun {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &harnessRun{dir: t.TempDir(), measured: make(chan struct{}), seen: map[[2]uint64]procInfo{},
		stopScan: make(chan struct{}), scanned: make(chan struct{})}
	h.cmd = exec.Command(self, args...)
	h.cmd.Env = append(os.Environ(), runMainEnv+"=1", "TMPDIR="+h.dir)
	h.cmd.Stdout = &h.stdout
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a process group of its own, as a job at a terminal
	errPipe, err := h.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL) }) // should the test fail midway
	go func() {
		sc := bufio.NewScanner(errPipe)
		once := sync.Once{}
		for sc.Scan() {
			h.mu.Lock()
			h.errLines = append(h.errLines, sc.Text())
			h.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "perf: ") && strings.Contains(sc.Text(), " targets × ") {
				once.Do(func() { close(h.measured) })
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
	}()
	go h.scan()
	return h
}

// scan records, every 10 ms until stopped, the processes descending from the
// harness (by parent chain).
func (h *harnessRun) scan() {
	defer close(h.scanned)
	root := h.cmd.Process.Pid
	for {
		procs := listProcs()
		parent := map[int]int{}
		for _, p := range procs {
			parent[p.pid] = p.ppid
		}
		for _, p := range procs {
			for q, hops := p.ppid, 0; q > 1 && hops < 64; q, hops = parent[q], hops+1 {
				if q == root {
					h.mu.Lock()
					h.seen[[2]uint64{uint64(p.pid), p.start}] = p
					h.mu.Unlock()
					break
				}
			}
		}
		select {
		case <-h.stopScan:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitMeasuring waits until every target is up and the first measurement
// is running.
func (h *harnessRun) waitMeasuring(t *testing.T) {
	t.Helper()
	select {
	case <-h.measured:
	case <-time.After(30 * time.Second):
		t.Fatalf("the harness did not start measuring\nstderr:\n%s", h.stderr())
	}
	time.Sleep(300 * time.Millisecond) // into wrk's run
}

func (h *harnessRun) wait(t *testing.T) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("the harness did not exit\nstderr:\n%s", h.stderr())
		return nil
	}
}

func (h *harnessRun) stderr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.errLines, "\n")
}

// checkNothingLeft fails the test if, a moment after the harness exited,
// any process remains that descended from it, shares a process group with
// one that did, or names the harness's temporary directory on its command
// line.
func (h *harnessRun) checkNothingLeft(t *testing.T) {
	t.Helper()
	close(h.stopScan)
	<-h.scanned
	h.mu.Lock()
	seen := h.seen
	h.mu.Unlock()
	if len(seen) < 3 { // the upstream, nginx's master and a worker at least
		t.Fatalf("saw only %d processes under the harness; the scan is broken\nstderr:\n%s", len(seen), h.stderr())
	}
	groups := map[int]bool{h.cmd.Process.Pid: true}
	for _, p := range seen {
		if p.pgid != syscall.Getpgrp() {
			groups[p.pgid] = true
		}
	}
	var left []string
	for deadline := time.Now().Add(3 * time.Second); ; {
		left = left[:0]
		for _, p := range listProcs() {
			_, descended := seen[[2]uint64{uint64(p.pid), p.start}]
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
			cmd := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			if descended || groups[p.pgid] || strings.Contains(cmd, h.dir) {
				left = append(left, fmt.Sprintf("pid %d (ppid %d, pgid %d, state %c): %s", p.pid, p.ppid, p.pgid, p.state, cmd))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		for _, p := range left {
			if pid, err := strconv.Atoi(strings.Fields(p)[1]); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		t.Errorf("still running after the harness exited (now killed):\n%s\nstderr:\n%s", strings.Join(left, "\n"), h.stderr())
	}
}

// TestFloorPassesBytesThrough: the floor POSTs the caller's body to the
// upstream URL and returns the upstream's status, Content-Type and body.
func TestFloorPassesBytesThrough(t *testing.T) {
	answer := bytes.Repeat([]byte("x"), 7000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/attest" || string(got) != `{"a":1}` ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, fmt.Sprintf("got %s %s %q %q", r.Method, r.URL.Path, got, r.Header.Get("Content-Type")), http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	}))
	defer up.Close()
	u, _ := http.NewRequest(http.MethodPost, up.URL+"/v1/attest", nil)
	f := httptest.NewServer(&floor{client: &http.Client{Transport: proxyTransport()}, url: u.URL,
		header: http.Header{"Content-Type": {"application/json"}}})
	defer f.Close()
	for range 3 { // buffers come back from the pool
		resp, err := http.Post(f.URL+"/anything", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || !bytes.Equal(got, answer) ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || resp.ContentLength != int64(len(answer)) {
			t.Fatalf("floor answered %d %q (Content-Length %d) %.80q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, got)
		}
	}
}
