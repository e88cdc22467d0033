package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policysource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const clusterPolicyYAML = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: label team is required
      pattern: {metadata: {labels: {team: "?*"}}}
`

// TestPolicySourceFollowsCluster checks that a policy created, changed and
// deleted in the cluster takes effect in the compiled set within 2 s.
func TestPolicySourceFollowsCluster(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := policysource.New(c, policysource.Options{Debounce: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	errc := make(chan error, 1)
	go func() { errc <- w.Start(ctx) }()

	waitWithin := func(what string, limit time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < limit {
			if ok() {
				return time.Since(start)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s did not take effect within %v", what, limit)
		return 0
	}
	// Changes must take effect within 2 s; the first sync (informers
	// starting while the other test packages load the machine) may take longer.
	waitFor := func(what string, ok func() bool) time.Duration { return waitWithin(what, 2*time.Second, ok) }
	waitWithin("first sync", 30*time.Second, w.Ready)
	if n := w.Current().Len(); n != 0 {
		t.Fatalf("empty cluster gave %d policies", n)
	}

	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(clusterPolicyYAML), &obj.Object); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	d := waitFor("create", func() bool { return w.Current().Policy("require-team") != nil })
	t.Logf("created policy in force after %v", d)
	if p := w.Current().Policy("require-team"); p.FailureAction != "Enforce" || len(p.Rules) != 3 {
		t.Fatalf("compiled policy: action %s, %d rules (want Enforce, rule + 2 autogen)", p.FailureAction, len(p.Rules))
	}

	if err := unstructured.SetNestedField(obj.Object, "Audit", "spec", "validationFailureAction"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	d = waitFor("update", func() bool {
		p := w.Current().Policy("require-team")
		return p != nil && p.FailureAction == "Audit"
	})
	t.Logf("updated policy in force after %v", d)

	if err := env.Client.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	d = waitFor("delete", func() bool { return w.Current().Policy("require-team") == nil })
	t.Logf("deleted policy gone after %v", d)

	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("watcher: %v", err)
	}
}
