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
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const generatePolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: namespace-setup
spec:
  rules:
  - name: default-deny
    match:
      any:
      - resources:
          kinds: [Namespace]
    exclude:
      any:
      - resources:
          namespaces: [kube-system, kube-public, kube-node-lease, default, portcullis-system]
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data:
        spec:
          podSelector: {}
          policyTypes: [Ingress]
  - name: copy-settings
    match:
      any:
      - resources:
          kinds: [Namespace]
          names: ["team-*"]
    generate:
      apiVersion: v1
      kind: ConfigMap
      name: settings
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      clone:
        namespace: default
        name: base-settings
  - name: quota
    match:
      any:
      - resources:
          kinds: [Namespace]
          names: ["team-*"]
    generate:
      apiVersion: v1
      kind: ResourceQuota
      name: quota
      namespace: "{{request.object.metadata.name}}"
      data:
        spec:
          hard:
            pods: "10"`

const generateExistingPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: existing-setup
spec:
  generateExisting: true
  rules:
  - name: marker
    match:
      any:
      - resources:
          kinds: [Namespace]
          names: [legacy]
    generate:
      apiVersion: v1
      kind: ConfigMap
      name: marker
      namespace: "{{request.object.metadata.name}}"
      data:
        data:
          generated: "yes"`

// TestGenerate runs serve with the generate controller against a real API
// server: a generate rule creates a NetworkPolicy in each new Namespace
// (not in one that existed before the policy) and, synchronized, restores
// it when it is deleted or edited and deletes it with its Namespace; a
// rule without synchronize creates its ResourceQuota once; a clone rule
// copies a ConfigMap and follows changes of its source; generateExisting
// generates for a Namespace older than its policy; deleting the policy
// deletes the generated NetworkPolicies (synchronized data) and keeps the
// clones, as Kyverno does.
func TestGenerate(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cl := env.Client
	if err := cl.Create(ctx, namespace("portcullis-system")); err != nil {
		t.Fatal(err)
	}
	if err := cl.Create(ctx, namespace("legacy")); err != nil {
		t.Fatal(err)
	}
	source := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "base-settings", Namespace: "default"}, Data: map[string]string{"color": "blue"}}
	if err := cl.Create(ctx, source); err != nil {
		t.Fatal(err)
	}
	_, errc := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, Generate: true, Registry: prometheus.NewRegistry()})
	for _, p := range decodeAll(t, generatePolicy) {
		if err := cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the namespaces below are created after the policy
	for _, ns := range []string{"team-a", "shop"} {
		if err := cl.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	netpol := func(ns string) (*networkingv1.NetworkPolicy, error) {
		np := &networkingv1.NetworkPolicy{}
		err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default-deny"}, np)
		return np, err
	}
	for _, ns := range []string{"team-a", "shop"} {
		eventually(t, 10*time.Second, "NetworkPolicy generated in "+ns, func() (bool, string) {
			np, err := netpol(ns)
			if err != nil {
				return false, err.Error()
			}
			l := np.Labels
			return l[generate.LabelPolicyName] == "namespace-setup" && l[generate.LabelRuleName] == "default-deny" &&
				l[generate.LabelTriggerKind] == "Namespace" && l[generate.LabelTriggerName] == ns && l[generate.LabelManagedBy] == "portcullis" &&
				len(np.Spec.PolicyTypes) == 1, fmt.Sprint(l, np.Spec)
		})
	}
	// Excluded namespaces, and one older than the policy, get nothing.
	for _, ns := range []string{"default", "legacy"} {
		if _, err := netpol(ns); !apierrors.IsNotFound(err) {
			t.Errorf("NetworkPolicy in the %s namespace: %v", ns, err)
		}
	}
	// generateExisting: the older namespace gets the marker.
	for _, p := range decodeAll(t, generateExistingPolicy) {
		if err := cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "generateExisting generates for the older namespace", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		err := cl.Get(ctx, client.ObjectKey{Namespace: "legacy", Name: "marker"}, cm)
		return err == nil && cm.Data["generated"] == "yes", fmt.Sprint(err)
	})

	// Without synchronize: created once, not re-created when deleted.
	quota := &corev1.ResourceQuota{}
	eventually(t, 10*time.Second, "ResourceQuota generated in team-a", func() (bool, string) {
		err := cl.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "quota"}, quota)
		return err == nil, fmt.Sprint(err)
	})
	if err := cl.Delete(ctx, quota); err != nil {
		t.Fatal(err)
	}

	// Synchronize: deleted, it comes back; edited, it is restored.
	np, _ := netpol("team-a")
	if err := cl.Delete(ctx, np); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "deleted NetworkPolicy restored", func() (bool, string) {
		got, err := netpol("team-a")
		if err != nil {
			return false, err.Error()
		}
		return got.UID != np.UID, "same object"
	})
	np, _ = netpol("team-a")
	np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	if err := cl.Update(ctx, np); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "edited NetworkPolicy restored", func() (bool, string) {
		got, err := netpol("team-a")
		if err != nil {
			return false, err.Error()
		}
		return len(got.Spec.PolicyTypes) == 1 && got.Spec.PolicyTypes[0] == networkingv1.PolicyTypeIngress, fmt.Sprint(got.Spec.PolicyTypes)
	})

	// Clone: the ConfigMap is copied to team-* namespaces only, and
	// follows its source.
	settings := func(ns string) (*corev1.ConfigMap, error) {
		cm := &corev1.ConfigMap{}
		err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)
		return cm, err
	}
	eventually(t, 10*time.Second, "ConfigMap cloned into team-a", func() (bool, string) {
		cm, err := settings("team-a")
		if err != nil {
			return false, err.Error()
		}
		return cm.Data["color"] == "blue" && cm.Labels[generate.LabelRuleName] == "copy-settings", fmt.Sprint(cm.Data, cm.Labels)
	})
	if _, err := settings("shop"); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap in shop (not matched): %v", err)
	}
	source.Data["color"] = "green"
	if err := cl.Update(ctx, source); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "clone follows its source", func() (bool, string) {
		cm, err := settings("team-a")
		if err != nil {
			return false, err.Error()
		}
		return cm.Data["color"] == "green", fmt.Sprint(cm.Data)
	})

	if err := cl.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "quota"}, quota); !apierrors.IsNotFound(err) {
		t.Errorf("the deleted ResourceQuota of a rule without synchronize came back: %v", err)
	}

	// Synchronize: deleting the trigger deletes what it generated (the
	// namespace stays Terminating here: envtest runs no namespace
	// controller).
	if err := cl.Delete(ctx, namespace("shop")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "NetworkPolicy deleted with its namespace", func() (bool, string) {
		_, err := netpol("shop")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})

	// Deleting the policy deletes the synchronized data objects and
	// keeps the clones.
	pol := decodeAll(t, generatePolicy)[0]
	if err := cl.Delete(ctx, pol); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "NetworkPolicy deleted with the policy", func() (bool, string) {
		_, err := netpol("team-a")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if _, err := settings("team-a"); err != nil {
		t.Errorf("the clone went with the policy: %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("serve stopped: %v", err)
	default:
	}
}
