package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// reportCRDs is where the chart keeps the wgpolicyk8s.io CRDs.
const reportCRDs = "../../deploy/helm/portcullis/crds"

const teamLabelPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: require-team
  annotations: {policies.kyverno.io/severity: medium}
spec:
  validationFailureAction: Audit
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "label team is required"
      pattern: {metadata: {labels: {team: "?*"}}}`

const configMapOwnerPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: cm-owner}
spec:
  validationFailureAction: Audit
  rules:
  - name: owner
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "label owner is required"
      pattern: {metadata: {labels: {owner: "?*"}}}`

const nsSelectorPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: prod-tier}
spec:
  validationFailureAction: Audit
  rules:
  - name: tier
    match: {any: [{resources: {kinds: [Pod], namespaceSelector: {matchLabels: {env: prod}}}}]}
    validate:
      message: "prod Pods need a tier label"
      pattern: {metadata: {labels: {tier: "?*"}}}`

// reportResults returns "kind/name policy/rule result" for every result
// listed in the namespace's Portcullis reports (its first resource: a
// result common to several resources lists them all), and the summed
// summary.
func reportResults(ctx context.Context, t *testing.T, c client.Client, ns string) ([]string, map[string]int64) {
	t.Helper()
	return readReports(ctx, t, c, ns, false)
}

// reportEntries is reportResults with an entry for every resource of
// each result.
func reportEntries(ctx context.Context, t *testing.T, c client.Client, ns string) []string {
	t.Helper()
	out, _ := readReports(ctx, t, c, ns, true)
	return out
}

func readReports(ctx context.Context, t *testing.T, c client.Client, ns string, every bool) ([]string, map[string]int64) {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("wgpolicyk8s.io/v1alpha2")
	list.SetKind("PolicyReportList")
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	sum := map[string]int64{}
	for _, r := range list.Items {
		if r.GetLabels()["app.kubernetes.io/managed-by"] != "portcullis" {
			continue
		}
		for _, k := range []string{"pass", "fail", "warn", "error", "skip"} {
			n, _, _ := unstructured.NestedInt64(r.Object, "summary", k)
			sum[k] += n
		}
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, x := range results {
			m := x.(map[string]any)
			resources := m["resources"].([]any)
			if !every {
				resources = resources[:1]
			}
			for _, r := range resources {
				res := r.(map[string]any)
				out = append(out, fmt.Sprintf("%s/%s %s/%s %s", res["kind"], res["name"], m["policy"], m["rule"], m["result"]))
			}
		}
	}
	return out, sum
}

// only keeps the entries about kind.
func only(kind string, results []string) []string {
	var out []string
	for _, r := range results {
		if strings.HasPrefix(r, kind+"/") {
			out = append(out, r)
		}
	}
	return out
}

func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last state: %s", what, within, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func counterValue(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// TestBackgroundReports runs serve with the background controller against
// a real API server: Pods that were running before an Audit policy was
// applied show up as failures in their namespace's PolicyReport, fixing
// one turns it to pass, an edit of a ConfigMap policy does not
// re-evaluate Pods, and deleting the policy removes its results.
func TestBackgroundReports(t *testing.T) {
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	// Running before any policy exists.
	for _, name := range []string{"unlabelled", "labelled"} {
		p := pod(name, "apps", "gcr.io/app:1", true, true)
		if name == "labelled" {
			p.Labels = map[string]string{"team": "payments"}
		}
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	_, errc := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, Background: true, Registry: reg})

	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	applied := time.Now()
	eventually(t, 5*time.Second, "the running unlabelled Pod reported failing", func() (bool, string) {
		got, sum := reportResults(ctx, t, env.Client, "apps")
		return len(got) == 1 && got[0] == "Pod/unlabelled require-team/team-label fail" && sum["pass"] == 1 && sum["fail"] == 1,
			fmt.Sprintf("%v %v", got, sum)
	})
	t.Logf("reported %s after the policy was applied", time.Since(applied).Round(time.Millisecond))

	// A ConfigMap policy edit must not re-evaluate Pods.
	for _, p := range decodeAll(t, configMapOwnerPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// A hostile object (a ConfigMap near the API server's size limit, a
	// thousand keys, an odd name) is evaluated like any other.
	hostile := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x0.a-" + strings.Repeat("a", 200) + ".z", Namespace: "apps"},
		Data: map[string]string{"big": strings.Repeat("{{ request.object }}", 40000)}}
	for i := range 1000 {
		hostile.Data[fmt.Sprintf("k%04d", i)] = "v"
	}
	if err := env.Client.Create(ctx, hostile); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the hostile ConfigMap reported", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		cms := only("ConfigMap", got)
		return len(cms) == 1 && strings.HasSuffix(cms[0], "cm-owner/owner fail"), fmt.Sprint(got)
	})
	time.Sleep(2 * time.Second) // the watcher's debounce and the controller's reaction
	podsBefore := counterValue(t, reg, "portcullis_background_evaluations_total", "kind", "Pod")
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("portcullis.dev/v1")
	cm.SetKind("ClusterPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "cm-owner"}, cm); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(cm.Object, "spec", "rules")
	rules[0].(map[string]any)["validate"].(map[string]any)["message"] = "label owner is required (edited)"
	if err := unstructured.SetNestedSlice(cm.Object, rules, "spec", "rules"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if after := counterValue(t, reg, "portcullis_background_evaluations_total", "kind", "Pod"); after != podsBefore {
		t.Errorf("editing a ConfigMap policy re-evaluated Pods: %v -> %v evaluations", podsBefore, after)
	}

	// Fixing the Pod turns its result to pass.
	fixed := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "unlabelled"}, fixed); err != nil {
		t.Fatal(err)
	}
	fixed.Labels = map[string]string{"team": "search"}
	if err := env.Client.Update(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the fixed Pod reported passing", func() (bool, string) {
		got, sum := reportResults(ctx, t, env.Client, "apps")
		return len(only("Pod", got)) == 0 && sum["pass"] == 2 && sum["fail"] == 1, fmt.Sprintf("%v %v", got, sum)
	})

	// A deleted Pod leaves the report; a deleted policy takes its results along.
	if err := env.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "labelled"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the deleted Pod left the report", func() (bool, string) {
		_, sum := reportResults(ctx, t, env.Client, "apps")
		return sum["pass"] == 1 && sum["fail"] == 1, fmt.Sprint(sum)
	})
	pol := &unstructured.Unstructured{}
	pol.SetAPIVersion("portcullis.dev/v1")
	pol.SetKind("ClusterPolicy")
	pol.SetName("require-team")
	if err := env.Client.Delete(ctx, pol); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the deleted policy's results are gone", func() (bool, string) {
		got, sum := reportResults(ctx, t, env.Client, "apps")
		return len(only("Pod", got)) == 0 && sum["pass"] == 0 && sum["fail"] == 1, fmt.Sprintf("%v %v", got, sum)
	})

	// A namespaceSelector policy applies once the namespace gets the label.
	for _, p := range decodeAll(t, nsSelectorPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if got, _ := reportResults(ctx, t, env.Client, "apps"); len(only("Pod", got)) != 0 {
		t.Fatalf("a namespaceSelector policy applied to an unlabelled namespace: %v", got)
	}
	apps := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "apps"}, apps); err != nil {
		t.Fatal(err)
	}
	apps.Labels = map[string]string{"env": "prod"}
	if err := env.Client.Update(ctx, apps); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Pods re-evaluated when their namespace was labelled", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		pods := only("Pod", got)
		return len(pods) == 1 && pods[0] == "Pod/unlabelled prod-tier/tier fail", fmt.Sprint(got)
	})
	cancel()
	select {
	case err := <-errc:
		if err != nil && !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestBackgroundNeedsReportCRDs: without the report CRDs, serve refuses to
// start the background controller with a message saying what to do.
func TestBackgroundNeedsReportCRDs(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, Background: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "CRDs are not installed") || !strings.Contains(err.Error(), "--background=false") {
		t.Fatalf("serve without report CRDs: %v", err)
	}
	// The command line's default (not asked for explicitly): serve runs,
	// admission works, continuous verification is off with a warning.
	var logs syncBuffer
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(rctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, Background: true, BackgroundOptional: true,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(serve.Running) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("serve with the default --background and no report CRDs: %v", err)
	case <-time.After(25 * time.Second):
		t.Fatal("serve did not start")
	}
	if !strings.Contains(logs.String(), "continuous verification is off") {
		t.Errorf("no warning that continuous verification is off:\n%s", logs.String())
	}
	rcancel()
	<-errc
}
