// Package proctest builds the attestd binary for tests and runs programs
// whose stderr is JSON log lines.
package proctest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// BuildAttestd compiles cmd/attestd (pkg is its import path or a relative
// directory) into dir and returns the binary's path.
func BuildAttestd(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, "attestd")
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// MainWithAttestd is a TestMain body for packages that test the built
// binary: it builds pkg into a temporary directory, stores the binary's path
// in *bin, runs the tests, cleans up and exits.
func MainWithAttestd(m *testing.M, pkg string, bin *string) {
	dir, err := os.MkdirTemp("", "attestd-test")
	if err != nil {
		panic(err)
	}
	if *bin, err = BuildAttestd(dir, pkg); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Proc is a running program (attestd, its emulator) whose stderr is read
// as JSON log lines.
type Proc struct {
	// Cmd is the process.
	Cmd *exec.Cmd
	// Lines receives the log lines after the one Start waited for;
	// lines nobody reads in time are dropped (All keeps them).
	Lines chan map[string]any
	all   *strings.Builder
	done  chan struct{} // closed when stderr is drained
}

// Start runs bin with args, a clean environment (PATH, a temporary HOME,
// a free admin port) plus env, and returns once a log line whose msg is msg
// appears, with that line's fields. The process is killed at test end.
func Start(t testing.TB, ctx context.Context, bin string, args, env []string, msg string) (*Proc, map[string]any) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	// A free admin port unless the test chooses: tests run side by side.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "ATTESTD_ADMIN_ADDR=127.0.0.1:0"}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, Lines: make(chan map[string]any, 256), all: &strings.Builder{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer close(p.Lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.all.WriteString(sc.Text() + "\n") // read only after done is closed
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case p.Lines <- m:
				default: // nobody is reading any more
				}
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done; _ = cmd.Wait() })
	for m := range p.Lines {
		if m["msg"] == msg {
			return p, m
		}
	}
	t.Fatalf("%s %v never logged %q:\n%s", bin, args, msg, p.all.String())
	return nil, nil
}

// Stop sends SIGTERM, waits for a clean exit and returns all it logged.
func (p *Proc) Stop(t testing.TB) string {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := p.Cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.all.String())
	}
	return p.all.String()
}
