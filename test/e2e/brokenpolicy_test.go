package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/serve"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// withStatus gives CRDs the status subresource, as the chart's have.
func withStatus(crds ...*apiextensionsv1.CustomResourceDefinition) []*apiextensionsv1.CustomResourceDefinition {
	for _, c := range crds {
		for i := range c.Spec.Versions {
			c.Spec.Versions[i].Subresources = &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}
		}
	}
	return crds
}

const requireTeamBroken = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    preconditions:
      all: [{key: "{{ request.operation }}", operator: Equalz, value: CREATE}]
    validate:
      message: label team is required
      pattern: {metadata: {labels: {team: "?*"}}}
`

// A ClusterImagePolicy with valid globs and an authority that names no
// kind: it does not compile.
const brokenImagePolicy = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: signed-blocked}
spec:
  images: [{glob: "registry.example/blocked/**"}]
  authorities: [{name: nothing}]
`

// globalRefPolicy reads a Kyverno GlobalContextEntry, which serve does not
// load, with a default: evaluated without the entry it would always pass.
const globalRefPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: NAME}
spec:
  validationFailureAction: Enforce
  rules:
  - name: allowed-teams
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: teams
      globalReference: {name: allowed-teams, jmesPath: "data.allowed"}
    validate:
      message: team not allowed
      deny:
        conditions:
          any: [{key: "{{ request.object.metadata.labels.team || '' }}", operator: AnyNotIn, value: "{{ teams || 'a' }}"}]
`

// TestBrokenPolicyInCluster: a policy that stops compiling after it was
// loaded (written while the policy validation webhook was not there to
// refuse it) keeps enforcing its last good version; an Enforce
// ClusterImagePolicy broken from the start denies the images of its globs
// naming itself; both are surfaced: status condition Ready=False, a
// Warning Event, the portcullis_policies_broken metric, /readyz detail.
// Fixed, the condition turns Ready=True.
//
// The webhook configuration (with the policy validation webhook) only
// appears once this replica leads: another holder keeps the Lease until
// the broken versions are stored.
func TestBrokenPolicyInCluster(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = withStatus(append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())...)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const ns = "portcullis-system"
	for _, n := range []string{ns, "apps"} {
		if err := env.Client.Create(ctx, namespace(n)); err != nil {
			t.Fatal(err)
		}
	}
	good := decodeAll(t, clusterPolicyYAML)[0]
	if err := env.Client.Create(ctx, good); err != nil {
		t.Fatal(err)
	}
	holder, dur, now := "someone-else", int32(3600), metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "portcullis", Namespace: ns},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, AcquireTime: &now, RenewTime: &now}}
	if err := env.Client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	var r serve.Running
	var errc <-chan error
	r, errc = startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: ns,
		DNSNames: []string{"127.0.0.1"}, ImagePolicies: true,
		LeaderElection: true, RetryPeriod: 200 * time.Millisecond})
	if r.Policies.Current().Policy("require-team") == nil {
		t.Fatal("the good policy is not loaded")
	}

	// Broken versions stored behind the webhook's back.
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(good.GroupVersionKind())
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "require-team"}, cur); err != nil {
		t.Fatal(err)
	}
	broken := decodeAll(t, requireTeamBroken)[0]
	broken.SetResourceVersion(cur.GetResourceVersion())
	if err := env.Client.Update(ctx, broken); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, decodeAll(t, brokenImagePolicy)[0]); err != nil {
		t.Fatal(err)
	}
	// serve cannot load globalReference context entries: refused at load.
	if err := env.Client.Create(ctx, decodeAll(t, strings.ReplaceAll(globalRefPolicy, "NAME", "cm-lookup"))[0]); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "three policies reported broken", 10*time.Second, func() bool { return len(r.Policies.Broken()) == 3 })
	for _, b := range r.Policies.Broken() {
		want := map[string]policysource.Fallback{"require-team": policysource.FallbackLastGood, "signed-blocked": policysource.FallbackFailClosed,
			"cm-lookup": policysource.FallbackNone}[b.Name]
		if b.Fallback != want {
			t.Errorf("%s: fallback %s, want %s (%s)", b.Key, b.Fallback, want, b.Message())
		}
		if b.Name == "cm-lookup" && !strings.Contains(b.Message(), "globalReference context entries are not supported in serve yet") {
			t.Errorf("cm-lookup: %s", b.Message())
		}
	}
	if r.Policies.Current().Policy("cm-lookup") != nil {
		t.Error("a policy with a globalReference context entry is in force (evaluated without its entry)")
	}
	if p := r.Policies.Current().Policy("require-team"); p == nil {
		t.Fatal("the last good version of require-team is not in force")
	}

	// Lead now: the configuration is applied, statuses written.
	if err := env.Client.Delete(ctx, lease); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Applied:
	case <-time.After(30 * time.Second):
		t.Fatal("the webhook configuration was not applied after the Lease was freed")
	}
	var denial error
	waitUntil(t, "the last good version denies a pod without a team label", 30*time.Second, func() bool {
		denial = env.Client.Create(ctx, pod("no-team", "apps", "gcr.io/app:1", true, true))
		return denial != nil && strings.Contains(denial.Error(), "label team is required")
	})
	team := pod("blocked", "apps", "registry.example/blocked/app:1", true, true)
	team.Labels = map[string]string{"team": "a"}
	err := env.Client.Create(ctx, team)
	if err == nil || !strings.Contains(err.Error(), "signed-blocked") || !strings.Contains(err.Error(), "does not compile") {
		t.Errorf("image covered by the broken ClusterImagePolicy: err = %v, want a denial naming it", err)
	}
	// ...and refused at apply time, with the reason.
	err = env.Client.Create(ctx, decodeAll(t, strings.ReplaceAll(globalRefPolicy, "NAME", "cm-lookup-2"))[0])
	if err == nil || !strings.Contains(err.Error(), "globalReference context entries are not supported in serve yet") {
		t.Errorf("policy with a globalReference context entry: err = %v, want refusal with the reason", err)
	}
	other := pod("other", "apps", "gcr.io/app:1", true, true)
	other.Labels = map[string]string{"team": "a"}
	if err := env.Client.Create(ctx, other); err != nil {
		t.Errorf("pod outside both: %v", err)
	}

	ready2 := func(kind, name string) *metav1.Condition {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(map[string]string{"ClusterPolicy": "portcullis.dev/v1", "ClusterImagePolicy": "policy.sigstore.dev/v1beta1"}[kind])
		u.SetKind(kind)
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
			t.Fatal(err)
		}
		for _, c := range conditionsOf(u) {
			if c.Type == "Ready" {
				return &c
			}
		}
		return nil
	}
	waitUntil(t, "Ready=False on the broken policies", 10*time.Second, func() bool {
		a, b := ready2("ClusterPolicy", "require-team"), ready2("ClusterImagePolicy", "signed-blocked")
		return a != nil && a.Status == metav1.ConditionFalse && b != nil && b.Status == metav1.ConditionFalse
	})
	c := ready2("ClusterPolicy", "require-team")
	if c.Reason != "CompileFailed" || !strings.Contains(c.Message, `unknown operator "Equalz"`) || !strings.Contains(c.Message, "last good version") {
		t.Errorf("condition = %+v", c)
	}
	waitUntil(t, "a Warning Event on the broken policy", 10*time.Second, func() bool {
		var evs corev1.EventList
		if err := env.Client.List(ctx, &evs); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "ClusterPolicy" && e.InvolvedObject.Name == "require-team" && e.Type == corev1.EventTypeWarning &&
				strings.Contains(e.Message, "Equalz") {
				return true
			}
		}
		return false
	})
	get := func(path string) string {
		resp, err := http.Get("http://" + r.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/readyz"); !strings.Contains(body, "ClusterPolicy/require-team (last-good)") || !strings.Contains(body, "ClusterImagePolicy/signed-blocked (fail-closed)") {
		t.Errorf("/readyz = %q, want the broken policies listed", body)
	}
	if body := get("/metrics"); !strings.Contains(body, `portcullis_policies_broken{fallback="last-good",kind="ClusterPolicy"} 1`) {
		t.Errorf("/metrics lacks the broken policy gauge")
	}

	// Fixed (through the webhook now): Ready=True, nothing broken.
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "require-team"}, cur); err != nil {
		t.Fatal(err)
	}
	fixed := decodeAll(t, clusterPolicyYAML)[0]
	fixed.SetResourceVersion(cur.GetResourceVersion())
	if err := env.Client.Update(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Ready=True once fixed", 10*time.Second, func() bool {
		c := ready2("ClusterPolicy", "require-team")
		return c != nil && c.Status == metav1.ConditionTrue
	})
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Error("serve did not stop")
	}
}

func waitUntil(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func conditionsOf(u *unstructured.Unstructured) []metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []metav1.Condition
	for _, r := range raw {
		m, _ := r.(map[string]any)
		c := metav1.Condition{}
		c.Type, _ = m["type"].(string)
		c.Status, _ = m["status"].(metav1.ConditionStatus)
		if s, ok := m["status"].(string); ok {
			c.Status = metav1.ConditionStatus(s)
		}
		c.Reason, _ = m["reason"].(string)
		c.Message, _ = m["message"].(string)
		out = append(out, c)
	}
	return out
}
