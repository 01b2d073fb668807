// Package proctest builds the attestd binary for tests and runs programs
// whose stderr is JSON log lines.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
// binary: it stores the path of pkg's binary in *bin (see CachedAttestd),
// runs the tests and exits.
func MainWithAttestd(m *testing.M, pkg string, bin *string) {
	var err error
	if *bin, err = CachedAttestd(pkg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// CachedAttestd returns a binary of pkg shared by every test process that
// asks for the same sources: it lives in the temporary directory under the
// build ID go list gives pkg's compiled package (which changes with any
// source it depends on), and the first process to ask builds it while the
// others wait on a lock. Packages run in parallel under go test ./..., and
// each linking its own copy cost seconds per package. Entries unused for a
// day are removed.
func CachedAttestd(pkg string) (string, error) {
	out, err := exec.Command("go", "list", "-export", "-f", "{{.BuildID}}", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %v", pkg, err)
	}
	sum := sha256.Sum256(bytes.TrimSpace(out))
	root := filepath.Join(os.TempDir(), "attestd-test-bin")
	dir := filepath.Join(root, hex.EncodeToString(sum[:12]))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "attestd")
	now := time.Now()
	if _, err := os.Stat(bin); err == nil {
		_ = os.Chtimes(dir, now, now) // in use: not pruned
		return bin, nil
	}
	prune(root, now.Add(-24*time.Hour))
	// Built aside and renamed into place, so the entry is whole or absent.
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return "", err
	}
	if _, err := BuildAttestd(tmp, pkg); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return bin, nil
}

// prune removes the cache's entries (and their locks) last used before
// cutoff.
func prune(root string, cutoff time.Time) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && info.ModTime().Before(cutoff) {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
			_ = os.Remove(filepath.Join(root, e.Name()+".lock"))
		}
	}
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
