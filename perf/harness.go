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
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// row is one measurement.
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

func runHarness(args []string) error {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	dur := fs.Duration("d", 10*time.Second, "measured duration per run")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up per run (not measured)")
	concs := fs.String("c", "1,16,64", "concurrency levels")
	logLevel := fs.String("log-level", "warn", "attestd's ATTESTD_LOG_LEVEL (info logs two lines per call)")
	gogc := fs.String("gogc", "", "GOGC for attestd (empty: attestd's default)")
	only := fs.String("only", "", "comma-separated targets to run (upstream,nginx,rest,grpc); empty: all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, tool := range []string{"wrk", "nginx", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: run `bash perf/deps` (apt-get install wrk nginx-light)", tool)
		}
	}
	var levels []int
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-c %q: want positive integers", *concs)
		}
		levels = append(levels, n)
	}
	dir, err := os.MkdirTemp("", "attestd-perf")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	attestd := filepath.Join(dir, "attestd")
	if out, err := exec.Command("go", "build", "-o", attestd, "./cmd/attestd").CombinedOutput(); err != nil {
		return fmt.Errorf("build attestd: %v\n%s", err, out)
	}

	// The upstream: Stytch's typical answer, fixed.
	up := exec.CommandContext(ctx, self, "upstream")
	upOut, _ := up.StdoutPipe()
	if err := up.Start(); err != nil {
		return err
	}
	defer up.Process.Kill()
	line, err := bufio.NewReader(upOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("upstream: %v", err)
	}
	upAddr := strings.TrimSpace(strings.TrimPrefix(line, "listening "))

	// nginx as a byte-forwarding reverse proxy, with upstream keep-alive.
	nginxAddr, err := freeAddr()
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, nginxAddr, upAddr)), 0o644); err != nil {
		return err
	}
	ngx := exec.CommandContext(ctx, "nginx", "-c", conf, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	if err := ngx.Start(); err != nil {
		return err
	}
	defer ngx.Process.Kill()

	// attestd in front of the same upstream.
	grpcAddr, err := freeAddr()
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	at := exec.CommandContext(ctx, attestd)
	at.Env = append(os.Environ(),
		"STYTCH_PROJECT_ID=project-test-perf", "STYTCH_SECRET=secret-test-perf", "STYTCH_BASE_URL=http://"+upAddr,
		"ATTESTD_GRPC_ADDR="+grpcAddr, "ATTESTD_HTTP_ADDR="+httpAddr, "ATTESTD_ADMIN_ADDR=off",
		"ATTESTD_LOG_LEVEL="+*logLevel, "ATTESTD_UPSTREAM_MAX_CONCURRENT=1024")
	if *gogc != "" {
		at.Env = append(at.Env, "GOGC="+*gogc)
	}
	at.Stderr = os.Stderr
	if err := at.Start(); err != nil {
		return err
	}
	defer at.Process.Kill()
	for _, a := range []string{nginxAddr, grpcAddr, httpAddr} {
		if err := waitListening(a); err != nil {
			return err
		}
	}

	bodyLua := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(bodyLua, []byte(`wrk.method = "POST"
wrk.body = '{"profile_id":"trusted-token-profile-test-perf","token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}'
wrk.headers["Content-Type"] = "application/json"
`), 0o644); err != nil {
		return err
	}
	path := "/v1/b2b/sessions/attest"
	targets := []target{
		{name: "upstream", url: "http://" + upAddr + path, pids: func() []int { return []int{up.Process.Pid} }},
		{name: "nginx", url: "http://" + nginxAddr + path, pids: func() []int { return withChildren(ngx.Process.Pid) }, proxy: true},
		{name: "rest", url: "http://" + httpAddr + path, pids: func() []int { return []int{at.Process.Pid} }, proxy: true},
		{name: "grpc", grpc: grpcAddr, pids: func() []int { return []int{at.Process.Pid} }, proxy: true},
	}
	if *only != "" {
		var keep []target
		for _, t := range targets {
			if strings.Contains(","+*only+",", ","+t.name+",") {
				keep = append(keep, t)
			}
		}
		targets = keep
	}
	fmt.Fprintf(os.Stderr, "perf: %d targets × concurrency %v, %v each after %v warm-up; attestd log level %s, GOGC %q\n",
		len(targets), levels, *dur, *warm, *logLevel, *gogc)
	var rows []row
	for _, c := range levels {
		for _, t := range targets {
			if _, err := measure(self, t, c, *warm, bodyLua); err != nil { // warm-up
				return fmt.Errorf("%s c=%d warm-up: %w", t.name, c, err)
			}
			r, err := measure(self, t, c, *dur, bodyLua)
			if err != nil {
				return fmt.Errorf("%s c=%d: %w", t.name, c, err)
			}
			rows = append(rows, r)
			fmt.Fprintf(os.Stderr, "perf: %-8s c=%-3d %8.0f req/s\n", t.name, c, r.rps)
		}
	}
	printTable(rows)
	return nil
}

// measure runs one load against t and reads the CPU and RSS of its
// processes around it.
func measure(self string, t target, c int, d time.Duration, lua string) (row, error) {
	pids := t.pids()
	cpu0 := cpuTicks(pids)
	r := row{target: t.name, conc: c, cpuPer1k: -1}
	if t.grpc != "" {
		out, err := exec.Command(self, "grpc-load", "-addr", t.grpc, "-c", strconv.Itoa(c), "-d", d.String()).Output()
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
		out, err := exec.Command("wrk", "-t1", "-c"+strconv.Itoa(c), "-d"+secs+"s", "--latency", "-s", lua, t.url).CombinedOutput()
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
	ref := func(name string, c int) float64 {
		for _, r := range rows {
			if r.target == name && r.conc == c {
				return r.rps
			}
		}
		return 0
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "target\tconc\treq/s\tp50\tp99\tCPU s/1k\tpeak RSS MiB\t×nginx\t×upstream\terrors\t")
	for _, r := range rows {
		cpu := "-"
		if r.cpuPer1k >= 0 {
			cpu = fmt.Sprintf("%.3f", r.cpuPer1k)
		}
		ratio := func(base float64) string {
			if base == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", r.rps/base)
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%.1f\t%s\t%s\t%d\t\n", r.target, r.conc, r.rps,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), cpu, float64(r.peakRSSKiB)/1024,
			ratio(ref("nginx", r.conc)), ratio(ref("upstream", r.conc)), r.errors)
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

func waitListening(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling a process we started; not a test
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
