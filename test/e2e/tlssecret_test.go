package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestReplicasShareCertificateSecret starts two replicas with the same
// --tls-secret and no leader election: one bundle is issued, both serve
// certificates of it (each is dialled), and the webhook configuration
// publishes its CA, so either replica can be reached.
func TestReplicasShareCertificateSecret(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"portcullis-system", "apps"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	owner := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "portcullis"}}
	if err := env.Client.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	started := make(chan serve.Running, 2)
	errc := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			errc <- serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
				DNSNames: []string{"127.0.0.1"}, TLSSecret: "portcullis-tls", CertDir: t.TempDir(), OwnerClusterRole: "portcullis"},
				func(r serve.Running) { started <- r })
		}()
	}
	var replicas []serve.Running
	for i := 0; i < 2; i++ {
		select {
		case r := <-started:
			replicas = append(replicas, r)
		case err := <-errc:
			t.Fatalf("replica: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("replicas did not start")
		}
	}
	var sec corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "portcullis-system", Name: "portcullis-tls"}, &sec); err != nil {
		t.Fatal(err)
	}
	if len(sec.Data["ca.crt"]) == 0 || len(sec.Data["tls.crt"]) == 0 || len(sec.Data["tls.key"]) == 0 || sec.Type != corev1.SecretTypeTLS {
		t.Fatalf("Secret = type %s keys %v", sec.Type, keys(sec.Data))
	}
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &cfg); err != nil {
		t.Fatal(err)
	}
	if refs := cfg.OwnerReferences; len(refs) != 1 || refs[0].Kind != "ClusterRole" || refs[0].UID != owner.UID {
		t.Fatalf("owner references = %+v, want the ClusterRole (garbage collection on uninstall)", refs)
	}
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, sec.Data["ca.crt"]) {
			t.Fatalf("webhook %s publishes a CA bundle other than the shared Secret's", w.Name)
		}
	}
	// Each replica serves a certificate of the shared CA (dialled
	// directly, trusting only the Secret's CA) and answers reviews.
	for _, r := range replicas {
		resp := review(t, r.Addr, sec.Data["ca.crt"], pod("direct", "apps", "docker.io/nginx", true, true))
		if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "approved-registries") {
			t.Fatalf("replica %s: review = %+v, want a denial by approved-registries", r.Addr, resp)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, pod("shared", "apps", "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook with the shared certificate never denied (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil {
			t.Fatalf("replica stopped with %v", err)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
