package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/generate"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const mutateExistingPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: label-existing
spec:
  rules:
  - name: label-targets
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger-*]
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        namespace: "{{request.object.metadata.namespace}}"
        selector:
          matchLabels: {app: web}
      - apiVersion: v1
        kind: ConfigMap
        namespace: "{{request.object.metadata.namespace}}"
        name: settings
        preconditions:
          all:
          - key: "{{target.data.locked || ''}}"
            operator: NotEquals
            value: "yes"
      patchStrategicMerge:
        metadata:
          labels:
            triggered-by: "{{request.object.metadata.name}}"`

const mutateExistingOnUpdatePolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: label-on-policy-update
spec:
  mutateExistingOnPolicyUpdate: true
  rules:
  - name: mark
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [legacy-trigger]
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        namespace: "{{request.object.metadata.namespace}}"
        name: legacy-secret
      patchStrategicMerge:
        metadata:
          labels:
            policy-update: applied`

// TestMutateExisting runs serve with the generate controller, which also
// mutates existing resources (Kyverno mutate rules with targets), against
// a real API server: creating a trigger ConfigMap patches a label onto the
// existing Secrets the target's selector picks and onto the ConfigMap the
// other target names (whose own preconditions read `target`); a trigger
// that existed before the policy patches nothing; with
// mutateExistingOnPolicyUpdate, creating the policy patches the targets of
// an existing trigger.
func TestMutateExisting(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cl := env.Client
	for _, ns := range []string{"portcullis-system", "apps", "older"} {
		if err := cl.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	secret := func(ns, name string, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, StringData: map[string]string{"k": "v"}}
	}
	configMap := func(ns, name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	}
	for _, o := range []client.Object{
		secret("apps", "web-1", map[string]string{"app": "web"}),
		secret("apps", "web-2", map[string]string{"app": "web"}),
		secret("apps", "db", map[string]string{"app": "db"}),
		configMap("apps", "settings", map[string]string{"color": "blue"}),
		secret("older", "web-old", map[string]string{"app": "web"}),
		// A trigger older than the policies.
		configMap("older", "trigger-old", nil),
		secret("apps", "legacy-secret", nil),
		configMap("apps", "legacy-trigger", nil),
	} {
		if err := cl.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, Generate: true, Registry: prometheus.NewRegistry()}, func(r serve.Running) { ready <- r })
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start in 60 s")
	}
	for _, p := range decodeAll(t, mutateExistingPolicy) {
		if err := cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	labelOf := func(obj client.Object, key string) string {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return "error: " + err.Error()
		}
		return obj.GetLabels()[key]
	}
	// The trigger kind's informer starts with the policy: wait for the
	// controller to watch ConfigMaps, then create the trigger.
	time.Sleep(2 * time.Second)
	if err := cl.Create(ctx, configMap("apps", "trigger-a", nil)); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{secret("apps", "web-1", nil), secret("apps", "web-2", nil), configMap("apps", "settings", nil)} {
		eventually(t, 15*time.Second, fmt.Sprintf("%s labelled by the trigger", o.GetName()), func() (bool, string) {
			got := labelOf(o, "triggered-by")
			return got == "trigger-a", got
		})
		if mf := o.GetManagedFields(); len(mf) == 0 || mf[len(mf)-1].Manager != generate.MutateFieldManager {
			t.Errorf("%s: last field manager %v, want %s", o.GetName(), mf, generate.MutateFieldManager)
		}
	}
	if got := labelOf(secret("apps", "db", nil), "triggered-by"); got != "" {
		t.Errorf("the Secret the selector does not pick was labelled: %q", got)
	}
	if got := labelOf(secret("older", "web-old", nil), "triggered-by"); got != "" {
		t.Errorf("a trigger older than the policy mutated its targets: %q", got)
	}

	// A target whose own preconditions fail is left alone; a second
	// trigger relabels the others.
	settings := configMap("apps", "settings", nil)
	if err := cl.Get(ctx, client.ObjectKeyFromObject(settings), settings); err != nil {
		t.Fatal(err)
	}
	settings.Data["locked"] = "yes"
	if err := cl.Update(ctx, settings); err != nil {
		t.Fatal(err)
	}
	if err := cl.Create(ctx, configMap("apps", "trigger-b", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "web-1 relabelled by the second trigger", func() (bool, string) {
		got := labelOf(secret("apps", "web-1", nil), "triggered-by")
		return got == "trigger-b", got
	})
	if got := labelOf(configMap("apps", "settings", nil), "triggered-by"); got != "trigger-a" {
		t.Errorf("the locked ConfigMap was relabelled: %q", got)
	}

	// mutateExistingOnPolicyUpdate: the policy applies to the existing
	// trigger when it is created.
	for _, p := range decodeAll(t, mutateExistingOnUpdatePolicy) {
		if err := cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, "legacy-secret labelled on policy creation", func() (bool, string) {
		got := labelOf(secret("apps", "legacy-secret", nil), "policy-update")
		return got == "applied", got
	})
	select {
	case err := <-errc:
		t.Fatalf("serve stopped: %v", err)
	default:
	}
}
