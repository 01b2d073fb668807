package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// target is one system under load.
type target struct {
	name  string
	url   string // HTTP targets (wrk)
	grpc  string // the gRPC target (grpc-load)
	pids  func() []int
	proxy bool // measured for CPU and RSS
}

// targetNames are the targets, in the order they are measured and printed.
var targetNames = []string{"upstream", "nginx", "floor", "revproxy", "rest", "grpc"}

// row is one measurement, or the median of several.
type row struct {
	target     string
	conc       int
	rps        float64
	p50, p99   time.Duration
	cpuPer1k   float64 // seconds of CPU per 1000 requests; -1 if not measured
	peakRSSKiB int64
	requests   int64
	errors     int64
}

// errInterrupted is the harness's error after Ctrl-C (or SIGTERM).
var errInterrupted = errors.New("interrupted")

func runHarness(args []string) (err error) {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	dur := fs.Duration("d", 10*time.Second, "measured duration per run")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up before every run (not measured; 0: none)")
	concs := fs.String("c", "1,16,64", "concurrency levels")
	runs := fs.Int("runs", 3, "runs per target and concurrency; the table shows the median of each figure")
	logLevel := fs.String("log-level", "info", "attestd's ATTESTD_LOG_LEVEL (info, production's, logs two lines per call)")
	gogc := fs.String("gogc", "", "GOGC for every Go target: attestd, floor, revproxy (empty: Go's default)")
	only := fs.String("only", "", "comma-separated targets to run ("+strings.Join(targetNames, ",")+"); empty: all")
	baseline := fs.String("baseline", "", "a git revision whose attestd is measured too, in the same run, as rest@base and grpc@base (before and after a change)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", *runs)
	}
	var levels []int
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-c %q: want positive integers", *concs)
		}
		levels = append(levels, n)
	}
	want := map[string]bool{}
	for _, n := range targetNames {
		want[n] = *only == ""
	}
	if *only != "" {
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if _, ok := want[n]; !ok {
				return fmt.Errorf("-only: unknown target %q (want %s)", n, strings.Join(targetNames, ","))
			}
			want[n] = true
		}
	}
	tools := []string{"wrk"}
	if want["nginx"] {
		tools = append(tools, "nginx")
	}
	if want["rest"] || want["grpc"] {
		tools = append(tools, "go")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: run `bash perf/deps` (apt-get install wrk nginx-light)", tool)
		}
	}

	// Ctrl-C (or SIGTERM) ends the run; every process started is stopped
	// on the way out, whatever the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	dir, err := os.MkdirTemp("", "attestd-perf")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The Go targets' logs go through pipes, as to a log collector; the
	// harness keeps their tails, shown if the run fails.
	var logs []*tail
	defer func() {
		if err != nil && ctx.Err() == nil {
			for _, l := range logs {
				if s := l.String(); s != "" {
					fmt.Fprintf(os.Stderr, "perf: %s's last log lines:\n%s\n", l.name, s)
				}
			}
		}
	}()
	logTo := func(name string) *tail {
		l := &tail{name: name, max: 16 << 10}
		logs = append(logs, l)
		return l
	}
	var procs children
	defer func() {
		if serr := procs.stopAll(5 * time.Second); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	defer func() { // runs before the children are stopped, whose errors add to it
		if ctx.Err() != nil && err != nil {
			err = errInterrupted
		}
	}()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	goEnv := cleanEnv()
	if *gogc != "" {
		goEnv = append(goEnv, "GOGC="+*gogc)
	}
	path := attestPath

	// The upstream: Stytch's typical answer, fixed.
	up, upAddr, err := startListening(ctx, &procs, "upstream", exec.Command(self, "upstream"))
	if err != nil {
		return err
	}
	targets := []target{{name: "upstream", url: "http://" + upAddr + path, pids: func() []int { return []int{up.pid()} }}}

	if want["nginx"] {
		// nginx as a byte-forwarding reverse proxy, with upstream keep-alive:
		// in the foreground (daemon off), a master and its workers.
		nginxAddr, err := freeAddr()
		if err != nil {
			return err
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(dir, nginxAddr, upAddr)), 0o644); err != nil {
			return err
		}
		ngx, err := procs.start("nginx", exec.Command("nginx", "-c", conf, "-p", dir, "-e", filepath.Join(dir, "error.log")))
		if err != nil {
			return err
		}
		if err := waitListening(ctx, nginxAddr, ngx); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return fmt.Errorf("nginx: %w\n%s", err, b)
		}
		targets = append(targets, target{name: "nginx", url: "http://" + nginxAddr + path,
			pids: func() []int { return withChildren(ngx.pid()) }, proxy: true})
	}
	for _, name := range []string{"floor", "revproxy"} {
		if !want[name] {
			continue
		}
		upURL := "http://" + upAddr
		if name == "floor" {
			upURL += path // the floor POSTs to one URL, as attestd does
		}
		cmd := exec.Command(self, name, "-upstream", upURL)
		cmd.Env = goEnv
		cmd.Stderr = logTo(name) // ReverseProxy logs the calls wrk cuts at the end of a run
		p, addr, err := startListening(ctx, &procs, name, cmd)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: name, url: "http://" + addr + path,
			pids: func() []int { return []int{p.pid()} }, proxy: true})
	}

	if want["rest"] || want["grpc"] {
		// attestd in front of the same upstream; with -baseline, the
		// baseline's attestd too, measured right after it.
		builds := []struct{ suffix, src string }{{"", "."}}
		if *baseline != "" {
			src := filepath.Join(dir, "baseline")
			if err := exportRevision(ctx, *baseline, src); err != nil {
				return err
			}
			builds = append(builds, struct{ suffix, src string }{"@base", src})
		}
		for _, b := range builds {
			ts, err := startAttestd(ctx, &procs, dir, b.src, b.suffix, upAddr, *logLevel, goEnv, logTo, want)
			if err != nil {
				return err
			}
			targets = append(targets, ts...)
		}
	}
	if !want["upstream"] {
		targets = targets[1:]
	}

	bodyLua := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(bodyLua, []byte(`wrk.method = "POST"
wrk.body = '{"profile_id":"trusted-token-profile-test-perf","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}'
wrk.headers["Content-Type"] = "application/json"
`), 0o644); err != nil {
		return err
	}
	gogcNote := "Go's default"
	if *gogc != "" {
		gogcNote = *gogc
	}
	fmt.Fprintf(os.Stderr, "perf: %d targets × concurrency %v × %d runs, %v each after %v warm-up; attestd log level %s, GOGC %s\n",
		len(targets), levels, *runs, *dur, *warm, *logLevel, gogcNote)
	var rows []row
	for _, c := range levels {
		samples := make([][]row, len(targets))
		// Runs interleave (every target once, then again), so drift on a
		// shared machine spreads over all targets rather than one.
		for run := 1; run <= *runs; run++ {
			for i, t := range targets {
				if *warm > 0 {
					if _, err := measure(ctx, self, t, c, *warm, bodyLua); err != nil {
						return fmt.Errorf("%s c=%d warm-up: %w", t.name, c, err)
					}
				}
				r, err := measure(ctx, self, t, c, *dur, bodyLua)
				if err != nil {
					return fmt.Errorf("%s c=%d: %w", t.name, c, err)
				}
				samples[i] = append(samples[i], r)
				cpu := ""
				if r.cpuPer1k >= 0 {
					cpu = fmt.Sprintf(", %.3f CPU s/1k", r.cpuPer1k)
				}
				fmt.Fprintf(os.Stderr, "perf: %-8s c=%-3d run %d/%d: %8.0f req/s%s\n", t.name, c, run, *runs, r.rps, cpu)
			}
		}
		for _, s := range samples {
			rows = append(rows, median(s))
		}
	}
	printTable(rows)
	checkFloor(rows)
	return nil
}

// startListening starts a subcommand of the harness that prints
// "listening <addr>" once it listens, and returns that address.
func startListening(ctx context.Context, procs *children, name string, cmd *exec.Cmd) (*child, string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	cmd.Stdout = w
	c, err := procs.start(name, cmd)
	w.Close()
	if err != nil {
		return nil, "", err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(s), "listening ")
		if !ok {
			return nil, "", fmt.Errorf("%s did not start (it printed %q)", name, s)
		}
		return c, addr, nil
	case <-ctx.Done():
		return nil, "", ctx.Err()
	case <-time.After(30 * time.Second):
		return nil, "", fmt.Errorf("%s did not start within 30s", name)
	}
}

// tail is an io.Writer keeping the last max bytes written.
type tail struct {
	name string
	max  int
	mu   sync.Mutex
	b    []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return string(b)
}

// median is the median of each figure of rows (one target, one
// concurrency), each figure on its own; errors are summed over the runs.
func median(rows []row) row {
	m := rows[0]
	mid := func(v []float64) float64 {
		slices.Sort(v)
		if n := len(v); n%2 == 1 {
			return v[n/2]
		} else {
			return (v[n/2-1] + v[n/2]) / 2
		}
	}
	figure := func(get func(r row) float64) float64 {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = get(r)
		}
		return mid(v)
	}
	m.rps = figure(func(r row) float64 { return r.rps })
	m.p50 = time.Duration(figure(func(r row) float64 { return float64(r.p50) }))
	m.p99 = time.Duration(figure(func(r row) float64 { return float64(r.p99) }))
	m.cpuPer1k = figure(func(r row) float64 { return r.cpuPer1k })
	m.peakRSSKiB = int64(figure(func(r row) float64 { return float64(r.peakRSSKiB) }))
	m.requests = int64(figure(func(r row) float64 { return float64(r.requests) }))
	m.errors = 0
	for _, r := range rows {
		m.errors += r.errors
	}
	return m
}

// checkFloor warns when the floor used more CPU per call than ReverseProxy:
// then it is no floor, and the ×floor column misleads.
func checkFloor(rows []row) {
	for _, f := range rows {
		if f.target != "floor" || f.cpuPer1k < 0 {
			continue
		}
		for _, r := range rows {
			if r.target == "revproxy" && r.conc == f.conc && r.cpuPer1k >= 0 && f.cpuPer1k > r.cpuPer1k {
				fmt.Fprintf(os.Stderr, "perf: WARNING: c=%d: the floor used more CPU per 1k requests (%.3f s) than ReverseProxy (%.3f s)\n",
					f.conc, f.cpuPer1k, r.cpuPer1k)
			}
		}
	}
}

// measure runs one load against t and reads the CPU and RSS of its
// processes around it.
func measure(ctx context.Context, self string, t target, c int, d time.Duration, lua string) (row, error) {
	pids := t.pids()
	cpu0 := cpuTicks(pids)
	r := row{target: t.name, conc: c, cpuPer1k: -1}
	if t.grpc != "" {
		out, err := command(ctx, self, "grpc-load", "-addr", t.grpc, "-c", strconv.Itoa(c), "-d", d.String()).Output()
		if err != nil {
			return r, err
		}
		var lr loadResult
		if err := json.Unmarshal(out, &lr); err != nil {
			return r, err
		}
		r.rps, r.requests, r.errors = lr.RPS, lr.Requests, lr.Errors
		if lr.FirstError != "" {
			fmt.Fprintf(os.Stderr, "perf: %s c=%d: %d errors, the first: %s\n", t.name, c, lr.Errors, lr.FirstError)
		}
		r.p50, r.p99 = time.Duration(lr.P50us)*time.Microsecond, time.Duration(lr.P99us)*time.Microsecond
	} else {
		secs := strconv.Itoa(max(1, int(d.Seconds())))
		out, err := command(ctx, "wrk", "-t1", "-c"+strconv.Itoa(c), "-d"+secs+"s", "--latency", "-s", lua, t.url).CombinedOutput()
		if err != nil {
			return r, fmt.Errorf("wrk: %v\n%s", err, out)
		}
		if err := parseWrk(string(out), &r); err != nil {
			return r, fmt.Errorf("%v\n%s", err, out)
		}
	}
	if t.proxy && r.requests > 0 {
		r.cpuPer1k = float64(cpuTicks(pids)-cpu0) / ticksPerSecond / float64(r.requests) * 1000
	}
	r.peakRSSKiB = peakRSS(pids)
	return r, nil
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal    = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkPercents = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func parseWrk(out string, r *row) error {
	m := wrkRPS.FindStringSubmatch(out)
	n := wrkTotal.FindStringSubmatch(out)
	if m == nil || n == nil {
		return errors.New("cannot read wrk's output")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	r.requests, _ = strconv.ParseInt(n[1], 10, 64)
	if e := wrkNon2xx.FindStringSubmatch(out); e != nil {
		r.errors, _ = strconv.ParseInt(e[1], 10, 64)
	}
	if e := wrkSocket.FindStringSubmatch(out); e != nil {
		for _, s := range e[1:] {
			k, _ := strconv.ParseInt(s, 10, 64)
			r.errors += k
		}
	}
	for _, p := range wrkPercents.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit))
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return nil
}

func printTable(rows []row) {
	ref := func(name string, c int) row {
		for _, r := range rows {
			if r.target == name && r.conc == c {
				return r
			}
		}
		return row{cpuPer1k: -1}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "target\tconc\treq/s\tp50\tp99\tCPU s/1k\tpeak RSS MiB\t×nginx\t×upstream\tCPU ×floor\terrors\t")
	for _, r := range rows {
		cpu, cpuFloor := "-", "-"
		if r.cpuPer1k >= 0 {
			cpu = fmt.Sprintf("%.3f", r.cpuPer1k)
			if f := ref("floor", r.conc).cpuPer1k; f > 0 {
				cpuFloor = fmt.Sprintf("%.2f", r.cpuPer1k/f)
			}
		}
		ratio := func(base float64) string {
			if base == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", r.rps/base)
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t%d\t\n", r.target, r.conc, r.rps,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), cpu, float64(r.peakRSSKiB)/1024,
			ratio(ref("nginx", r.conc).rps), ratio(ref("upstream", r.conc).rps), cpuFloor, r.errors)
	}
	w.Flush()
}

func nginxConf(dir, listen, upstream string) string {
	return fmt.Sprintf(`worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream stytch { server %[3]s; keepalive 128; }
  server {
    listen %[2]s;
    location / {
      proxy_pass http://stytch;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, listen, upstream)
}

// freeAddr finds a free loopback port (closed again at once: a tiny race
// with other processes, acceptable in a benchmark).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitListening waits until something accepts connections on addr, while
// the process p that should is running.
func waitListening(ctx context.Context, addr string, p *child) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited before listening on %s", addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling a process we started; not a test
		}
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

// ticksPerSecond is USER_HZ, 100 on Linux.
const ticksPerSecond = 100

// cpuTicks sums utime+stime of the processes (/proc/<pid>/stat).
func cpuTicks(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return total
}

// peakRSS sums VmHWM of the processes.
func peakRSS(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				total += n
			}
		}
	}
	return total
}

// withChildren is pid and its direct children (nginx's workers).
func withChildren(pid int) []int {
	pids := []int{pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return pids
	}
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// exportRevision writes git revision rev of this repository into dir.
func exportRevision(ctx context.Context, rev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := filepath.Join(filepath.Dir(dir), "baseline.tar")
	if out, err := command(ctx, "git", "archive", "-o", archive, rev).CombinedOutput(); err != nil {
		return fmt.Errorf("-baseline %s: git archive: %v\n%s", rev, err, out)
	}
	if out, err := command(ctx, "tar", "-xf", archive, "-C", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("-baseline %s: tar: %v\n%s", rev, err, out)
	}
	return nil
}

// startAttestd builds attestd from src and starts it in front of the
// upstream, returning its rest and grpc targets (named with suffix).
func startAttestd(ctx context.Context, procs *children, dir, src, suffix, upAddr, logLevel string, goEnv []string,
	logTo func(string) *tail, want map[string]bool) ([]target, error) {
	attestd := filepath.Join(dir, "attestd"+strings.TrimPrefix(suffix, "@"))
	build := command(ctx, "go", "build", "-o", attestd, "./cmd/attestd")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build attestd%s: %v\n%s", suffix, err, out)
	}
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(attestd)
	cmd.Env = append(slices.Clone(goEnv),
		"STYTCH_PROJECT_ID=project-test-perf", "STYTCH_SECRET=secret-test-perf", "STYTCH_BASE_URL=http://"+upAddr,
		"ATTESTD_GRPC_ADDR="+grpcAddr, "ATTESTD_HTTP_ADDR="+httpAddr, "ATTESTD_ADMIN_ADDR=off",
		"ATTESTD_LOG_LEVEL="+logLevel, "ATTESTD_UPSTREAM_MAX_CONCURRENT=1024")
	cmd.Stderr = logTo("attestd" + suffix)
	at, err := procs.start("attestd"+suffix, cmd)
	if err != nil {
		return nil, err
	}
	for _, a := range []string{grpcAddr, httpAddr} {
		if err := waitListening(ctx, a, at); err != nil {
			return nil, fmt.Errorf("attestd%s: %w", suffix, err)
		}
	}
	var targets []target
	if want["rest"] {
		targets = append(targets, target{name: "rest" + suffix, url: "http://" + httpAddr + attestPath,
			pids: func() []int { return []int{at.pid()} }, proxy: true})
	}
	if want["grpc"] {
		targets = append(targets, target{name: "grpc" + suffix, grpc: grpcAddr,
			pids: func() []int { return []int{at.pid()} }, proxy: true})
	}
	return targets, nil
}

// attestPath is the route every HTTP target is loaded on.
const attestPath = "/v1/b2b/sessions/attest"
