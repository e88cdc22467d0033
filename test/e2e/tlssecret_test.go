package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"slices"
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
// --tls-secret: one bundle is issued, both serve its certificate (dialed
// over TLS, verified against the CA the webhook configuration publishes),
// so either replica can be reached.
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
	if len(cfg.Webhooks) == 0 {
		t.Fatal("webhook configuration has no webhooks")
	}
	for _, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, sec.Data["ca.crt"]) {
			t.Fatalf("webhook %s publishes a CA bundle other than the shared Secret's", w.Name)
		}
	}
	checkServedCertificates(ctx, t, replicas, cfg.Webhooks[0].ClientConfig.CABundle, sec.Data["tls.crt"])
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

// checkServedCertificates dials every replica over TLS, trusting only
// caBundle (the CA the webhook configuration publishes), and checks that
// each presents the leaf of secretCert (the shared Secret's tls.crt) for
// 127.0.0.1, chained to that CA.
func checkServedCertificates(ctx context.Context, t *testing.T, replicas []serve.Running, caBundle, secretCert []byte) {
	t.Helper()
	cas := parseCertificates(t, "published CA bundle", caBundle)
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	want := parseCertificates(t, "Secret tls.crt", secretCert)[0]
	if len(replicas) != 2 || replicas[0].Addr == replicas[1].Addr {
		t.Fatalf("replicas = %+v, want two distinct addresses", replicas)
	}
	for _, r := range replicas {
		d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := d.DialContext(dctx, "tcp", r.Addr)
		cancel()
		if err != nil {
			t.Fatalf("replica %s: TLS with the published CA: %v", r.Addr, err)
		}
		state := conn.(*tls.Conn).ConnectionState()
		if err := conn.Close(); err != nil {
			t.Errorf("replica %s: close: %v", r.Addr, err)
		}
		if len(state.PeerCertificates) == 0 || len(state.VerifiedChains) == 0 {
			t.Fatalf("replica %s: no verified certificate chain", r.Addr)
		}
		if got := state.PeerCertificates[0]; !got.Equal(want) {
			t.Errorf("replica %s serves certificate serial %s, want the shared Secret's (serial %s)", r.Addr, got.SerialNumber, want.SerialNumber)
		}
		chain := state.VerifiedChains[0]
		root := chain[len(chain)-1]
		if len(chain) < 2 || !slices.ContainsFunc(cas, root.Equal) {
			t.Errorf("replica %s: chain %d long ends at %s, want the leaf issued by a published CA", r.Addr, len(chain), root.Subject)
		}
	}
}

// parseCertificates returns the certificates of a PEM bundle (at least one).
func parseCertificates(t *testing.T, what string, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no certificate", what)
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
