// Package deploytest proves the container image with the settings the Helm
// chart renders: `make deploy-test` runs it after `make image`.
package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// render runs the pinned helm on the chart and decodes the Deployment strictly.
func render(t *testing.T, set ...string) *appsv1.Deployment {
	t.Helper()
	args := []string{"tool", "-modfile=../../tools/helm/go.mod", "helm", "template", "attestd", "../helm/attestd",
		"--namespace", "auth", "--kube-version", "1.37.2", "--show-only", "templates/deployment.yaml"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("helm template: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("helm template: %v", err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(out, &d); err != nil {
		t.Fatalf("the rendered Deployment does not decode strictly into apps/v1: %v", err)
	}
	return &d
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func podman(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// runArgs translates the pod's one container into `podman run` arguments: the
// user, read-only root, capabilities, privilege escalation, environment,
// emptyDir volumes (as tmpfs) and arguments the chart gives it.
func runArgs(t *testing.T, d *appsv1.Deployment, image, name string) []string {
	t.Helper()
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc, psc := c.SecurityContext, pod.SecurityContext
	if sc == nil || psc == nil {
		t.Fatal("no security context rendered")
	}
	uid, gid := psc.RunAsUser, psc.RunAsGroup
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		gid = sc.RunAsGroup
	}
	if uid == nil || gid == nil || *uid == 0 {
		t.Fatalf("the chart must run as a non-root uid and gid, got %v:%v", uid, gid)
	}
	args := []string{"run", "--rm", "--name", name, "--user", fmt.Sprintf("%d:%d", *uid, *gid),
		// The stop signal is what the kubelet sends; --stop-timeout what it waits.
		"--stop-timeout", strconv.FormatInt(*pod.TerminationGracePeriodSeconds, 10)}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Fatal("readOnlyRootFilesystem is not set")
	}
	// Only the chart's volumes are writable: no tmpfs of podman's own.
	args = append(args, "--read-only", "--read-only-tmpfs=false")
	if sc.Capabilities != nil {
		for _, cp := range sc.Capabilities.Drop {
			args = append(args, "--cap-drop", string(cp))
		}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		args = append(args, "--security-opt", "no-new-privileges")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v := volumes[m.Name]
		switch {
		case v.EmptyDir != nil:
			opt := m.MountPath + ":rw,noexec,nosuid,nodev,mode=1777"
			if v.EmptyDir.SizeLimit != nil {
				opt += ",size=" + strconv.FormatInt(v.EmptyDir.SizeLimit.Value(), 10)
			}
			args = append(args, "--tmpfs", opt)
		default:
			t.Fatalf("volume %q: only emptyDir volumes can be reproduced here; render without secrets", m.Name)
		}
	}
	// The container's limits, as the kubelet sets them in the pod's cgroup.
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		args = append(args, "--memory", strconv.FormatInt(m.Value(), 10))
	}
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		args = append(args, "--cpus", strconv.FormatFloat(float64(cpu.MilliValue())/1000, 'f', 3, 64))
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: valueFrom cannot be reproduced here", e.Name)
		}
		if e.Name == "ATTESTD_MODE" {
			// No Stytch here: the same container on the embedded emulator,
			// which ATTESTD_MODE=stytch would refuse to start without
			// credentials.
			t.Logf("env %s=%s: run as %s=emulator (no Stytch credentials here)", e.Name, e.Value, e.Name)
			args = append(args, "-e", e.Name+"=emulator")
			continue
		}
		args = append(args, "-e", e.Name+"="+e.Value)
	}
	if len(c.Command) > 0 {
		args = append(args, "--entrypoint", c.Command[0])
	}
	args = append(args, image)
	if len(c.Command) > 1 {
		args = append(args, c.Command[1:]...)
	}
	return append(args, c.Args...)
}

func portOf(t *testing.T, c corev1.Container, p any) int {
	t.Helper()
	for _, cp := range c.Ports {
		if fmt.Sprint(p) == cp.Name || fmt.Sprint(p) == strconv.Itoa(int(cp.ContainerPort)) {
			return int(cp.ContainerPort)
		}
	}
	t.Fatalf("probe port %v is not a container port", p)
	return 0
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestImageRunsAsTheChartSays(t *testing.T) {
	image := os.Getenv("ATTESTD_IMAGE")
	if image == "" {
		t.Skip("ATTESTD_IMAGE is unset: run through make deploy-test, which builds the image")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Free loopback ports: the container shares the host's network (podman's
	// bridge is not usable here), and the chart's defaults may be taken.
	grpcPort, httpPort, adminPort := freePort(t), freePort(t), freePort(t)
	d := render(t, "mode=emulator",
		"ports.grpc="+strconv.Itoa(grpcPort), "ports.http="+strconv.Itoa(httpPort), "ports.admin="+strconv.Itoa(adminPort))
	c := d.Spec.Template.Spec.Containers[0]
	name := fmt.Sprintf("attestd-deploy-test-%d", os.Getpid())
	args := runArgs(t, d, image, name)
	t.Logf("podman %s", strings.Join(args, " "))

	var logs bytes.Buffer
	run := exec.Command("podman", args...)
	run.Stdout, run.Stderr = &logs, &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	defer func() {
		if t.Failed() {
			t.Logf("attestd's log:\n%s", logs.String())
		}
		_, _ = podman(context.Background(), "rm", "-f", "-t", "0", name)
	}()

	// The startup probe, with the chart's period and failure threshold.
	sp := c.StartupProbe
	if sp == nil || sp.HTTPGet == nil {
		t.Fatal("no HTTP startup probe rendered")
	}
	deadline := time.Now().Add(time.Duration(sp.PeriodSeconds*sp.FailureThreshold) * time.Second)
	startURL := fmt.Sprintf("http://127.0.0.1:%d%s", portOf(t, c, sp.HTTPGet.Port.String()), sp.HTTPGet.Path)
	for {
		code, _, err := get(startURL)
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("attestd exited before its startup probe passed: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("startup probe %s: not 200 within %ds (last: %d %v)", startURL, sp.PeriodSeconds*sp.FailureThreshold, code, err)
		}
		time.Sleep(time.Duration(sp.PeriodSeconds) * time.Second / 4)
	}
	t.Logf("startupProbe   GET %s: 200", startURL)

	// Every probe the chart declares answers 200.
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Fatalf("%s: no HTTP probe rendered", p.kind)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d%s", portOf(t, c, p.probe.HTTPGet.Port.String()), p.probe.HTTPGet.Path)
		code, body, err := get(url)
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s GET %s: %d %q %v", p.kind, url, code, body, err)
		}
		t.Logf("%s GET %s: %d %s", p.kind, url, code, strings.TrimSpace(body))
	}

	// attestd sets Go's soft memory limit from the container's (the chart's limit).
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		want := fmt.Sprintf(`"container_limit_bytes":%d`, m.Value())
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log of the Go memory limit set from the container's %s", want)
		} else {
			t.Logf("memory limit %s: attestd logged %s", m.String(), want)
		}
	}

	// The process: the chart's uid, a read-only root.
	inspect, err := podman(ctx, "inspect", "--format", "{{.State.Pid}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}", name)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(inspect))
	status, err := os.ReadFile(filepath.Join("/proc", fields[0], "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") {
			if f := strings.Fields(line); f[1] != "65532" {
				t.Errorf("process %s, want 65532", line)
			}
			t.Logf("process %s", strings.Join(strings.Fields(line), " "))
		}
	}
	if fields[1] != "true" {
		t.Errorf("ReadonlyRootfs = %s", fields[1])
	}

	// An attest on the embedded emulator, over REST, with a demo token minted by the image.
	req, err := podman(ctx, "run", "--rm", "--read-only", image, "demo-token", "--request")
	if err != nil {
		t.Fatal(err)
	}
	attestURL := fmt.Sprintf("http://127.0.0.1:%d/v1/b2b/sessions/attest", httpPort)
	resp, err := http.Post(attestURL, "application/json", bytes.NewReader(bytes.TrimSpace(req)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var answer struct {
		StatusCode   int    `json:"status_code"`
		SessionToken string `json:"session_token"`
		Member       struct {
			EmailAddress string `json:"email_address"`
		} `json:"member"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || resp.StatusCode != http.StatusOK || answer.SessionToken == "" {
		t.Fatalf("POST %s: %d %.300s (%v)", attestURL, resp.StatusCode, body, err)
	}
	t.Logf("POST %s: %d, member %s, session_token %d bytes", attestURL, resp.StatusCode, answer.Member.EmailAddress, len(answer.SessionToken))

	// SIGTERM, as the kubelet sends it after the preStop hook: attestd exits 0
	// within the pod's termination grace period.
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	start := time.Now()
	if _, err := podman(ctx, "kill", "--signal", "TERM", name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v (want exit 0)", err)
		}
		t.Logf("SIGTERM: exit 0 after %v (termination grace %v)", time.Since(start).Round(time.Millisecond), grace)
	case <-time.After(grace):
		t.Fatalf("attestd still running %v after SIGTERM", grace)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" log line after SIGTERM")
	}
}
