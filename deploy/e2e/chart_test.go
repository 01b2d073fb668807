package e2e

// TestChartOnKubernetes: the Helm chart (deploy/helm/attestd) on a real API server.
//  1. server-side apply (strict field validation: a dry run, the apply, then a second apply that
//     must change nothing) of what the chart renders with every feature on; the workload it
//     creates schedules and becomes ready;
//  2. helm install --wait; the HPA scales to its minimum; every replica ready and in the
//     Service's EndpointSlices; the PodDisruptionBudget allows one disruption;
//  3. a rolling upgrade (helm upgrade --wait with a changed pod annotation): a new ReplicaSet,
//     the old one scaled to zero, and never fewer available replicas than desired (maxUnavailable 0);
//  4. a drain: with every node cordoned, the first eviction is allowed, the second is refused
//     with 429 by the PodDisruptionBudget while its replacement cannot run, and goes through
//     once a node is back and the replacement is ready.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

const (
	release     = "attestd"
	fieldOwner  = "attestd-e2e"
	replicas    = 3
	rolloutNote = "e2e.attestd.dev/rollout"
)

var nodes = map[string]string{"kwok-node-0": "zone-a", "kwok-node-1": "zone-b", "kwok-node-2": "zone-c"}

func TestChartOnKubernetes(t *testing.T) {
	helm := need(t, "E2E_HELM")
	chart, err := filepath.Abs(envOr("E2E_CHART", "../helm/attestd"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := filepath.Abs(envOr("E2E_VALUES_FULL", "../test/values-full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, nodes)
	h := &helmCmd{t: t, bin: helm, kubeconfig: c.kubeconfig, home: filepath.Join(c.dir, "helm")}

	t.Run("ServerSideApply", func(t *testing.T) { c.serverSideApply(t, h, chart, full) })
	if t.Failed() {
		return
	}
	t.Run("HelmInstallWait", func(t *testing.T) { c.helmInstall(t, h, chart) })
	if t.Failed() {
		return
	}
	t.Run("RollingUpgrade", func(t *testing.T) { c.rollingUpgrade(t, h, chart) })
	if t.Failed() {
		return
	}
	t.Run("DrainStoppedByPDB", func(t *testing.T) { c.drain(t) })
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// --- 1. server-side apply -------------------------------------------------------------------

func (c *cluster) serverSideApply(t *testing.T, h *helmCmd, chart, full string) {
	ctx := context.Background()
	const ssaNS = "ssa"
	args := []string{"template", release, chart, "--namespace", ssaNS, "-f", full, "--kube-version", c.version(t)}
	crd := os.Getenv("E2E_SERVICEMONITOR_CRD")
	if crd == "" {
		t.Log("E2E_SERVICEMONITOR_CRD unset: rendering without the ServiceMonitor")
		args = append(args, "--set", "metrics.serviceMonitor.enabled=false")
	}
	rendered := h.run(t, args...)

	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ssaNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// values-full.yaml names a PriorityClass "high": the cluster has to have it for the pods.
	if _, err := c.cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if crd != "" {
		data, err := os.ReadFile(crd)
		if err != nil {
			t.Fatal(err)
		}
		objs := c.apply(t, ssaNS, data, false)
		name := objs[0].GetName()
		c.poll("CRD "+name+" established", 30*time.Second, func(ctx context.Context) (bool, error) {
			u, err := c.dynamic(t).Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, fmt.Errorf("not established yet")
		})
		t.Logf("applied the ServiceMonitor CRD %s (prometheus-operator)", name)
	}

	c.apply(t, ssaNS, rendered, true) // server-side dry run: everything passes validation and admission
	objs := c.apply(t, ssaNS, rendered, false)
	var kinds []string
	var deployment string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
		if o.GetKind() == "Deployment" {
			deployment = o.GetName()
		}
	}
	t.Logf("server-side applied %d objects (strict field validation): %s", len(objs), strings.Join(kinds, ", "))
	// Applying the same rendering again must not write anything: the API server then returns
	// the live object unchanged. Controllers (HPA, status) write in between, so a pass counts
	// only when no object moved; a rendering the server keeps rewriting never gets one.
	tgs := c.targets(t, ssaNS, rendered)
	c.poll("a second apply of the same rendering is a no-op", 30*time.Second, func(ctx context.Context) (bool, error) {
		for _, tg := range tgs {
			live, err := tg.ri.Get(ctx, tg.obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			got, err := tg.apply(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetResourceVersion() != live.GetResourceVersion() {
				return false, fmt.Errorf("re-applying %s wrote it (resourceVersion %s → %s)", tg, live.GetResourceVersion(), got.GetResourceVersion())
			}
		}
		return true, nil
	})
	t.Logf("a second apply of the same %d objects wrote nothing", len(tgs))
	if deployment == "" {
		t.Fatal("the rendering has no Deployment")
	}
	// values-full.yaml: HPA minimum 3, zone spread DoNotSchedule, a toleration and a node selector.
	d := c.waitDeploymentReady(t, ssaNS, deployment, 3, 90*time.Second)
	t.Logf("deployment %s/%s: %d/%d ready (HPA minReplicas from values-full.yaml, spread over zones)", ssaNS, d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)

	if err := c.cs.CoreV1().Namespaces().Delete(ctx, ssaNS, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.poll("namespace "+ssaNS+" deleted", 120*time.Second, func(ctx context.Context) (bool, error) {
		_, err := c.cs.CoreV1().Namespaces().Get(ctx, ssaNS, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	t.Logf("namespace %s deleted (its pods gone)", ssaNS)
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (c *cluster) dynamic(t *testing.T) dynamic.Interface {
	d, err := dynamic.NewForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type target struct {
	obj *unstructured.Unstructured
	ri  dynamic.ResourceInterface
}

// targets decodes a multi-document YAML stream into objects and their API resources, into ns for
// namespaced kinds that name none.
func (c *cluster) targets(t *testing.T, ns string, stream []byte) []target {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.cs.Discovery()))
	dyn := c.dynamic(t)
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []target
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decode the rendering: %v", err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk, u.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if u.GetNamespace() == "" {
				u.SetNamespace(ns)
			}
			ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		out = append(out, target{u, ri})
	}
	if len(out) == 0 {
		t.Fatal("nothing to apply")
	}
	return out
}

func (tg target) String() string {
	return tg.obj.GetKind() + "/" + tg.obj.GetName()
}

// apply server-side applies (force, strict field validation) one object; dryRun asks for a
// server-side dry run.
func (tg target) apply(ctx context.Context, dryRun bool) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(tg.obj)
	if err != nil {
		return nil, err
	}
	opts := metav1.PatchOptions{FieldManager: fieldOwner, Force: new(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := tg.ri.Patch(ctx, tg.obj.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		return nil, fmt.Errorf("server-side apply (dry run: %v) of %s refused: %w", dryRun, tg, err)
	}
	return got, nil
}

// apply server-side applies every document of a YAML stream.
func (c *cluster) apply(t *testing.T, ns string, stream []byte, dryRun bool) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, tg := range c.targets(t, ns, stream) {
		got, err := tg.apply(context.Background(), dryRun)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

// --- 2. helm install --wait -------------------------------------------------------------------

// ns is the release's namespace.
const ns = "auth"

func (c *cluster) helmInstall(t *testing.T, h *helmCmd, chart string) {
	ctx := context.Background()
	start := time.Now()
	out := h.run(t, "install", release, chart, "--namespace", ns, "--create-namespace", "--wait", "--timeout", "3m",
		"--set", "stytch.projectId=project-test-00000000-0000-0000-0000-000000000000",
		"--set", "stytch.secret=e2e-placeholder-not-a-secret",
		"--set", fmt.Sprintf("autoscaling.minReplicas=%d", replicas))
	t.Logf("helm install --wait returned in %s:\n%s", time.Since(start).Round(time.Millisecond), firstLines(string(out), 6))

	// The chart leaves spec.replicas to the HPA, which raises it to minReplicas (no metrics here).
	d := c.waitDeploymentReady(t, ns, release, replicas, 90*time.Second)
	t.Logf("deployment %s/%s: %d/%d ready, %d available (scaled to minReplicas by the HPA)", ns, d.Name,
		d.Status.ReadyReplicas, *d.Spec.Replicas, d.Status.AvailableReplicas)

	c.poll("the Service's EndpointSlices list every pod ready", 60*time.Second, func(ctx context.Context) (bool, error) {
		slices, err := c.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + release})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready == replicas, fmt.Errorf("%d ready endpoints", ready)
	})
	pdb := c.waitPDB(t, 1, replicas)
	t.Logf("service %s: %d ready endpoints; PDB %s: %d healthy of %d expected, %d disruption allowed", release, replicas,
		pdb.Name, pdb.Status.CurrentHealthy, pdb.Status.ExpectedPods, pdb.Status.DisruptionsAllowed)
	_ = ctx
}

// --- 3. rolling upgrade -----------------------------------------------------------------------

func (c *cluster) rollingUpgrade(t *testing.T, h *helmCmd, chart string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before, err := c.cs.AppsV1().Deployments(ns).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldRS := c.currentRS(t, before)

	// Watch the Deployment through the rollout: with maxUnavailable 0 it never has fewer
	// available replicas than desired.
	w, err := c.cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + release, ResourceVersion: before.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ events, minAvailable, maxReplicas int32 }
	result := make(chan seen, 1)
	go func() {
		s := seen{minAvailable: before.Status.AvailableReplicas, maxReplicas: before.Status.Replicas}
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && ev.Type == watch.Modified {
				s.events++
				s.minAvailable = min(s.minAvailable, d.Status.AvailableReplicas)
				s.maxReplicas = max(s.maxReplicas, d.Status.Replicas)
			}
		}
		result <- s
	}()

	start := time.Now()
	h.run(t, "upgrade", release, chart, "--namespace", ns, "--reuse-values", "--wait", "--timeout", "3m",
		"--set-string", "podAnnotations."+strings.ReplaceAll(rolloutNote, ".", `\.`)+"=2")
	t.Logf("helm upgrade --wait returned in %s", time.Since(start).Round(time.Millisecond))

	var newRS *appsv1.ReplicaSet
	c.poll("rollout complete: new ReplicaSet ready, old one at zero, old pods gone", 90*time.Second, func(ctx context.Context) (bool, error) {
		d, err := c.cs.AppsV1().Deployments(ns).Get(ctx, release, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != replicas ||
			d.Status.ReadyReplicas != replicas || d.Status.Replicas != replicas {
			return false, fmt.Errorf("status %+v", d.Status)
		}
		newRS = c.currentRS(t, d)
		if newRS.Name == oldRS.Name {
			return false, fmt.Errorf("no new ReplicaSet yet")
		}
		old, err := c.cs.AppsV1().ReplicaSets(ns).Get(ctx, oldRS.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if *old.Spec.Replicas != 0 || old.Status.Replicas != 0 {
			return false, fmt.Errorf("old ReplicaSet %s: spec %d, status %d", old.Name, *old.Spec.Replicas, old.Status.Replicas)
		}
		pods := c.releasePods(ctx, t)
		for _, p := range pods {
			if p.Annotations[rolloutNote] != "2" || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey] {
				return false, fmt.Errorf("pod %s is from the old template", p.Name)
			}
		}
		return len(pods) == replicas, fmt.Errorf("%d pods", len(pods))
	})
	cancel()
	s := <-result
	t.Logf("rolled out: ReplicaSet %s (revision %s) %d/%d ready; %s (revision %s) scaled to 0; during the rollout: %d status updates, at most %d pods, never fewer than %d available",
		newRS.Name, newRS.Annotations["deployment.kubernetes.io/revision"], newRS.Status.ReadyReplicas, replicas,
		oldRS.Name, oldRS.Annotations["deployment.kubernetes.io/revision"], s.events, s.maxReplicas, s.minAvailable)
	if s.events == 0 || s.maxReplicas <= replicas {
		t.Errorf("the watch saw no surge (%d updates, at most %d pods): was there a rollout?", s.events, s.maxReplicas)
	}
	if s.minAvailable < replicas {
		t.Errorf("available replicas fell to %d during the rollout (maxUnavailable 0 promises %d)", s.minAvailable, replicas)
	}
	c.waitPDB(t, 1, replicas)
}

// currentRS is the Deployment's ReplicaSet with the highest revision.
func (c *cluster) currentRS(t *testing.T, d *appsv1.Deployment) *appsv1.ReplicaSet {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.cs.AppsV1().ReplicaSets(d.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	var best *appsv1.ReplicaSet
	for i := range list.Items {
		rs := &list.Items[i]
		if best == nil || revision(rs) > revision(best) {
			best = rs
		}
	}
	if best == nil {
		t.Fatalf("no ReplicaSet for %s", d.Name)
	}
	return best
}

func revision(rs *appsv1.ReplicaSet) int {
	var n int
	fmt.Sscan(rs.Annotations["deployment.kubernetes.io/revision"], &n)
	return n
}

// --- 4. drain ---------------------------------------------------------------------------------

func (c *cluster) drain(t *testing.T) {
	ctx := context.Background()
	c.waitPDB(t, 1, replicas)
	pods := c.releasePods(ctx, t)
	if len(pods) != replicas {
		t.Fatalf("%d pods, want %d", len(pods), replicas)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Spec.NodeName < pods[j].Spec.NodeName })
	var where []string
	for _, p := range pods {
		where = append(where, p.Name+"@"+p.Spec.NodeName)
	}
	t.Logf("pods: %s", strings.Join(where, ", "))

	// The whole pool goes into maintenance: every node cordoned, so no replacement can run.
	for name := range nodes {
		c.cordon(t, name, true)
	}
	t.Logf("cordoned %d nodes", len(nodes))

	first, second := pods[0], pods[1]
	if err := c.evict(ctx, first); err != nil {
		t.Fatalf("drain %s: evicting %s (the PDB allows one disruption): %v", first.Spec.NodeName, first.Name, err)
	}
	t.Logf("drain %s: evicted %s (201: the budget allowed one disruption)", first.Spec.NodeName, first.Name)

	var replacement string
	c.poll("the evicted pod's replacement is pending, unschedulable (every node cordoned)", 60*time.Second, func(ctx context.Context) (bool, error) {
		for _, p := range c.releasePods(ctx, t) {
			if slices.ContainsFunc(pods, func(q corev1.Pod) bool { return q.Name == p.Name }) {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
					replacement = p.Name
					return true, nil
				}
			}
			return false, fmt.Errorf("replacement %s: node %q, conditions %v", p.Name, p.Spec.NodeName, p.Status.Conditions)
		}
		return false, fmt.Errorf("no replacement pod yet")
	})
	t.Logf("replacement %s: Pending, Unschedulable", replacement)

	err := c.evict(ctx, second)
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("drain %s: evicting %s while %s cannot run: got %v, want 429 TooManyRequests from the PodDisruptionBudget",
			second.Spec.NodeName, second.Name, replacement, err)
	}
	t.Logf("drain %s: evicting %s refused: 429 %q", second.Spec.NodeName, second.Name, err.Error())
	pdb := c.getPDB(t)
	if pdb.Status.DisruptionsAllowed != 0 {
		t.Errorf("PDB allows %d disruptions with a pod missing, want 0", pdb.Status.DisruptionsAllowed)
	}
	if p, err := c.cs.CoreV1().Pods(ns).Get(ctx, second.Name, metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("%s after the refused eviction: %v (deleting: %v)", second.Name, err, p != nil && p.DeletionTimestamp != nil)
	}

	// A node comes back: the replacement runs there, and the drain (retrying, as kubectl drain
	// does on 429) goes through once the budget allows it again.
	c.cordon(t, first.Spec.NodeName, false)
	t.Logf("uncordoned %s", first.Spec.NodeName)
	refusals := 0
	c.poll("drain "+second.Spec.NodeName+": evict "+second.Name+" once the replacement is ready", 90*time.Second, func(ctx context.Context) (bool, error) {
		err := c.evict(ctx, second)
		if apierrors.IsTooManyRequests(err) {
			refusals++
		}
		return err == nil, err
	})
	rp, err := c.cs.CoreV1().Pods(ns).Get(ctx, replacement, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drain %s: evicted %s after %d more 429s (replacement %s ready on %s)", second.Spec.NodeName, second.Name, refusals, rp.Name, rp.Spec.NodeName)

	for name := range nodes {
		c.cordon(t, name, false)
	}
	// The second evicted pod's replacement: a scheduling and a start here, slow on a loaded host
	// (rollout steps took 30-50 s each on 2 busy cores).
	d := c.waitDeploymentReady(t, ns, release, replicas, 3*time.Minute)
	c.waitPDB(t, 1, replicas)
	t.Logf("uncordoned all nodes: %d/%d ready again, PDB allows 1 disruption", d.Status.ReadyReplicas, replicas)
}

func (c *cluster) evict(ctx context.Context, p corev1.Pod) error {
	return c.cs.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
}

func (c *cluster) cordon(t *testing.T, node string, on bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%v}}`, on)
	if _, err := c.cs.CoreV1().Nodes().Patch(context.Background(), node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// --- shared -----------------------------------------------------------------------------------

// releasePods lists the release's pods that are not being deleted.
func (c *cluster) releasePods(ctx context.Context, t *testing.T) []corev1.Pod {
	t.Helper()
	sel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": "attestd", "app.kubernetes.io/instance": release})
	list, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	return pods
}

func (c *cluster) waitDeploymentReady(t *testing.T, ns, name string, want int32, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	c.poll(fmt.Sprintf("deployment %s/%s: %d replicas ready", ns, name, want), timeout, func(ctx context.Context) (bool, error) {
		var err error
		d, err = c.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ok := d.Spec.Replicas != nil && *d.Spec.Replicas == want && d.Status.ObservedGeneration >= d.Generation &&
			d.Status.ReadyReplicas == want && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want &&
			d.Status.Replicas == want
		return ok, fmt.Errorf("spec.replicas %v, status %+v", ptrVal(d.Spec.Replicas), d.Status)
	})
	return d
}

func (c *cluster) getPDB(t *testing.T) *policyv1.PodDisruptionBudget {
	t.Helper()
	pdb, err := c.cs.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pdb
}

func (c *cluster) waitPDB(t *testing.T, allowed, healthy int32) *policyv1.PodDisruptionBudget {
	t.Helper()
	var pdb *policyv1.PodDisruptionBudget
	c.poll(fmt.Sprintf("PDB: %d healthy, %d disruption allowed", healthy, allowed), 60*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		pdb, err = c.cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, release, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := pdb.Status
		return s.ObservedGeneration >= pdb.Generation && s.CurrentHealthy == healthy && s.ExpectedPods == healthy &&
			s.DisruptionsAllowed == allowed, fmt.Errorf("status %+v", s)
	})
	return pdb
}

func (c *cluster) version(t *testing.T) string {
	v, err := c.cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	return v.GitVersion
}

func ptrVal[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// helmCmd runs the pinned helm against the test cluster, with its own config, cache and data
// directories (nothing under $HOME).
type helmCmd struct {
	t               *testing.T
	bin, kubeconfig string
	home            string
}

func (h *helmCmd) run(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+h.kubeconfig,
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"), "HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stderr.String(), out)
	}
	return out
}
