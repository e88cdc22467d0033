package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestWebhookConfigurationDrift: the leader's reconciler repairs its
// webhook configurations within seconds (not at the next resync) when
// someone deletes or edits them.
func TestWebhookConfigurationDrift(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, Mutating: true, MutatingConfigurationName: "portcullis-mutating",
		ResyncInterval: time.Hour})
	const within = 10 * time.Second
	vwc := func() *admissionregistrationv1.ValidatingWebhookConfiguration {
		var c admissionregistrationv1.ValidatingWebhookConfiguration
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &c); err != nil {
			if !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
			return nil
		}
		return &c
	}
	mwc := func() *admissionregistrationv1.MutatingWebhookConfiguration {
		var c admissionregistrationv1.MutatingWebhookConfiguration
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis-mutating"}, &c); err != nil {
			if !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
			return nil
		}
		return &c
	}
	orig := vwc()
	if orig == nil || len(orig.Webhooks) == 0 || mwc() == nil {
		t.Fatal("configurations not applied at start")
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > within {
				t.Fatalf("%s: not repaired within %v", what, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%s: repaired after %v", what, time.Since(start).Round(time.Millisecond))
	}

	// Deleted: created again.
	if err := env.Client.Delete(ctx, orig); err != nil {
		t.Fatal(err)
	}
	waitFor("deleted validating configuration", func() bool { c := vwc(); return c != nil && c.UID != orig.UID && len(c.Webhooks) == len(orig.Webhooks) })

	// Edited: webhooks dropped and a CA bundle replaced; restored.
	cur := vwc()
	want := len(cur.Webhooks)
	cur.Webhooks = cur.Webhooks[:1]
	cur.Webhooks[0].ClientConfig.CABundle = []byte("not a CA")
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor("edited validating configuration", func() bool {
		c := vwc()
		return c != nil && len(c.Webhooks) == want && string(c.Webhooks[0].ClientConfig.CABundle) != "not a CA"
	})

	// The mutating configuration too.
	m := mwc()
	if err := env.Client.Delete(ctx, m); err != nil {
		t.Fatal(err)
	}
	waitFor("deleted mutating configuration", func() bool { c := mwc(); return c != nil && c.UID != m.UID })
}
