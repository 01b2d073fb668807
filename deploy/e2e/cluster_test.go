package e2e

// A throw-away Kubernetes cluster on loopback: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (nodes that mark their pods ready without running them). Everything
// listens on 127.0.0.1, lives in the test's temporary directory and is stopped by t.Cleanup, on
// failure too (and, through Pdeathsig, if the test binary itself dies).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

const (
	adminToken = "attestd-e2e-admin" // a static token (--token-auth-file) in system:masters
	// kwok manages the nodes carrying this annotation (and only those).
	kwokAnnotation = "kwok.x-k8s.io/node"
	pollEvery      = 250 * time.Millisecond
)

type component struct {
	name    string
	cmd     *exec.Cmd
	log     string
	exited  chan struct{}
	waitErr error
}

type cluster struct {
	t          *testing.T
	dir        string
	kubeconfig string
	cfg        *rest.Config
	cs         kubernetes.Interface
	components []*component
}

// need returns the environment variable or skips: the binaries come from make e2e-k8s.
func need(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set: run `make e2e-k8s` (it builds the control plane and sets it)", name)
	}
	return v
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

// startCluster starts the control plane and kwok with the given fake nodes (name → zone) and
// returns once the nodes are Ready.
func startCluster(t *testing.T, nodes map[string]string) *cluster {
	k8sBin := need(t, "E2E_K8S_BIN")
	kwokBin := need(t, "E2E_KWOK_BIN")
	etcd := os.Getenv("E2E_ETCD")
	if etcd == "" {
		etcd = "etcd"
	}
	if _, err := exec.LookPath(etcd); err != nil {
		t.Fatalf("etcd is missing (%v): apt-get install etcd-server", err)
	}
	c := &cluster{t: t, dir: t.TempDir()}
	t.Cleanup(c.stop) // registered after TempDir: runs before the directory is removed
	start := time.Now()

	pki := c.writePKI()
	etcdClient, etcdPeer := freePort(t), freePort(t)
	apiPort, kcmPort, schedPort, kwokPort := freePort(t), freePort(t), freePort(t), freePort(t)

	c.start("etcd", etcd,
		"--name=e2e", "--data-dir="+filepath.Join(c.dir, "etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", etcdClient),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", etcdClient),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeer),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeer),
		fmt.Sprintf("--initial-cluster=e2e=http://127.0.0.1:%d", etcdPeer),
		"--log-level=warn")
	c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/health", etcdClient), "etcd", 30*time.Second)

	c.start("kube-apiserver", filepath.Join(k8sBin, "kube-apiserver"),
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdClient),
		// Loopback only: a loopback advertise address needs the endpoint reconciler off (the
		// default/kubernetes Service then has no endpoints; nothing here reaches it from a pod).
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(c.dir, "apiserver"),
		"--tls-cert-file="+pki["serving.crt"], "--tls-private-key-file="+pki["serving.key"],
		"--client-ca-file="+pki["ca.crt"],
		"--token-auth-file="+pki["tokens.csv"],
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki["sa.pub"],
		"--service-account-signing-key-file="+pki["sa.key"],
		"--service-cluster-ip-range=10.96.0.0/24",
		"--enable-priority-and-fairness=false",
		"--profiling=false")
	c.kubeconfig = c.writeKubeconfig(apiPort, pki["ca.crt"])
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	c.cfg = cfg
	c.cs = kubernetes.NewForConfigOrDie(cfg)
	c.poll("kube-apiserver /readyz", 90*time.Second, func(ctx context.Context) (bool, error) {
		_, err := c.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, err
	})

	c.start("kube-controller-manager", filepath.Join(k8sBin, "kube-controller-manager"),
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig, "--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(c.dir, "kcm"),
		"--leader-elect=false",
		"--service-account-private-key-file="+pki["sa.key"], "--root-ca-file="+pki["ca.crt"],
		"--horizontal-pod-autoscaler-sync-period=2s",
		"--profiling=false")
	c.start("kube-scheduler", filepath.Join(k8sBin, "kube-scheduler"),
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig, "--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false",
		"--profiling=false")
	c.waitHTTP(fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort), "kube-controller-manager", 60*time.Second)
	c.waitHTTP(fmt.Sprintf("https://127.0.0.1:%d/healthz", schedPort), "kube-scheduler", 60*time.Second)

	stages := filepath.Join(c.dir, "kwok-stages.yaml")
	docs := []string{nodefast.DefaultNodeInit, nodeheartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady, podfast.DefaultPodComplete, podfast.DefaultPodDelete}
	if err := os.WriteFile(stages, []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start("kwok", filepath.Join(kwokBin, "kwok"),
		"--kubeconfig="+c.kubeconfig, "--config="+stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector="+kwokAnnotation+"=fake",
		"--node-lease-duration-seconds=40",
		"--server-address="+net.JoinHostPort("127.0.0.1", strconv.Itoa(kwokPort)))

	ctx := context.Background()
	for name, zone := range nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				"topology.kubernetes.io/zone": zone, "type": "kwok",
			},
		}}
		if _, err := c.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
	}
	c.poll(fmt.Sprintf("%d kwok nodes Ready", len(nodes)), 60*time.Second, func(ctx context.Context) (bool, error) {
		list, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == len(nodes), fmt.Errorf("%d of %d nodes ready", ready, len(nodes))
	})
	v, err := c.cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %s: kube-apiserver %s on https://127.0.0.1:%d (etcd, controller-manager, scheduler, kwok; %d nodes)",
		time.Since(start).Round(time.Millisecond), v.GitVersion, apiPort, len(nodes))
	return c
}

func (c *cluster) start(name, bin string, args ...string) *component {
	c.t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (a ^C to make reaches the test, which tears down in order), and
	// killed with the test process if that dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start %s: %v", name, err)
	}
	comp := &component{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		comp.waitErr = cmd.Wait()
		logf.Close()
		close(comp.exited)
	}()
	c.components = append(c.components, comp)
	return comp
}

// dead reports a component that exited while it should be running.
func (c *cluster) dead() error {
	for _, comp := range c.components {
		select {
		case <-comp.exited:
			return fmt.Errorf("%s exited (%v); its log ends:\n%s", comp.name, comp.waitErr, tail(comp.log, 30))
		default:
		}
	}
	return nil
}

// stop ends the components in reverse order: SIGTERM, then SIGKILL after 15 s.
func (c *cluster) stop() {
	if c.t.Failed() {
		for _, comp := range c.components {
			c.t.Logf("--- %s log (last 40 lines)\n%s", comp.name, tail(comp.log, 40))
		}
	}
	for i := len(c.components) - 1; i >= 0; i-- {
		comp := c.components[i]
		select {
		case <-comp.exited:
			continue
		default:
		}
		_ = comp.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-comp.exited:
		case <-time.After(15 * time.Second):
			_ = comp.cmd.Process.Kill()
			<-comp.exited
		}
	}
	c.components = nil
	// E2E_KEEP_LOGS=dir keeps the components' logs (the temporary directory goes with the test).
	if keep := os.Getenv("E2E_KEEP_LOGS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err == nil {
			logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
			for _, l := range logs {
				if data, err := os.ReadFile(l); err == nil {
					_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), data, 0o644)
				}
			}
			c.t.Logf("component logs kept in %s", keep)
		}
	}
}

// poll calls cond every 250 ms until it returns true, failing the test at the deadline (with the
// last error cond gave) or as soon as a component has died.
func (c *cluster) poll(what string, timeout time.Duration, cond func(context.Context) (bool, error)) {
	c.t.Helper()
	if err := c.pollErr(what, timeout, cond); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) pollErr(what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, pollEvery, true, func(ctx context.Context) (bool, error) {
		if err := c.dead(); err != nil {
			return false, err
		}
		ok, err := cond(ctx)
		if !ok && (last == nil || ctx.Err() == nil) {
			last = err // keep the last real answer, not the deadline cutting the final call short
		}
		return ok, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err) {
			return fmt.Errorf("%s: not within %s (last: %v)", what, timeout, last)
		}
		return fmt.Errorf("%s: %v", what, err)
	}
	return nil
}

// waitHTTP waits for a 200 from a health endpoint on loopback (self-signed serving certificates:
// not verified, this only asks whether the process is up).
func (c *cluster) waitHTTP(url, what string, timeout time.Duration) {
	c.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health check
	}}
	c.poll(what+" healthy", timeout, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s: %s", url, resp.Status)
	})
}

// writePKI writes a CA, the API server's serving certificate, the service-account signing key and
// the static token file; it returns their paths by name.
func (c *cluster) writePKI() map[string]string {
	t := c.t
	dir := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attestd-e2e-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))

	servingKey := key()
	servingDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
	}, ca, &servingKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	write("serving.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER}))
	write("serving.key", keyPEM(servingKey))

	saKey := key()
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write("sa.key", keyPEM(saKey))
	write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	write("tokens.csv", []byte(adminToken+`,attestd-e2e-admin,attestd-e2e-admin,"system:masters"`+"\n"))
	return paths
}

func (c *cluster) writeKubeconfig(port int, caPath string) string {
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		c.t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
`, port, base64.StdEncoding.EncodeToString(caPEM), adminToken)
	p := filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
