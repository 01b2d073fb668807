package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// children are the long-lived processes the harness starts (the upstream,
// nginx, the floor, ReverseProxy, attestd). Each runs in a process group of
// its own, so that stopping it reaches whatever it forked (nginx's workers)
// and a Ctrl-C at the terminal reaches the harness alone, which then stops
// them in order.
type children struct {
	mu   sync.Mutex
	list []*child
}

type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
}

// start starts cmd in its own process group. The process gets SIGTERM should
// the harness die without stopping it (Pdeathsig; an nginx master then takes
// its workers down with it).
func (cs *children) start(name string, cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stopAll stops every child: SIGTERM to its whole process group (nginx's
// master and workers both stop on it), then, the last started first, SIGKILL to the group after grace, and then it
// waits until no process of the group is left (nginx's workers included).
// It returns an error naming any group that would not go away.
func (cs *children) stopAll(grace time.Duration) error {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for _, c := range list {
		_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
	}
	var errs []error
	for i := len(list) - 1; i >= 0; i-- {
		c := list[i]
		select {
		case <-c.done:
		case <-time.After(grace):
		}
		// Whatever is left of the group (a leader deaf to term, workers
		// orphaned by a master that died first) goes now.
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
		<-c.done
		deadline := time.Now().Add(2 * time.Second)
		for left := groupMembers(c.pid()); len(left) > 0; left = groupMembers(c.pid()) {
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("%s: processes %v of its group are still running", c.name, left))
				break
			}
			time.Sleep(20 * time.Millisecond) // waiting for the kernel to finish killing them
		}
	}
	return errors.Join(errs...)
}

// groupMembers lists the live processes of process group pgid (zombies
// excluded: they are dead, and only wait for their parent to reap them).
func groupMembers(pgid int) []int {
	var pids []int
	for _, p := range listProcs() {
		if p.pgid == pgid && p.state != 'Z' {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// procInfo is what /proc/<pid>/stat says of a process.
type procInfo struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // start time in clock ticks since boot: pid + start names a process
}

// listProcs reads /proc/*/stat.
func listProcs() []procInfo {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	return p, true
}

// command is a short-lived command of the harness (go build, wrk,
// grpc-load), in a process group of its own that is killed with it when ctx
// ends (Ctrl-C) or should the harness die.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// cleanEnv is the harness's environment without Go runtime settings, so
// every Go target runs in Go's default configuration unless a flag says
// otherwise.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS":
			continue
		}
		env = append(env, kv)
	}
	return env
}
