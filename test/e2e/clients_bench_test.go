package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// BenchmarkImagePodCreate measures Pod creates through a real API server
// under a ClusterImagePolicy (validate and mutate webhooks; the namespace's
// default ServiceAccount names a pull secret, so every admission looks up
// the ServiceAccount and the Secret), first with serve configured as
// before issue 11 item 7 (client-go's 5 QPS / burst 10, every lookup a
// GET), then with the new rate limits alone (50 / 100), then with the
// defaults (50 / 100, lookups cached for 10 s), in one run, and reports
// each and the ratio after/before:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) PORTCULLIS_REGISTRY=1 \
//	  go test -run '^$' -bench BenchmarkImagePodCreate -benchtime 60x ./test/e2e/
func BenchmarkImagePodCreate(b *testing.B) {
	reg := registrytest.Start(b)
	key := registrytest.NewKey(b)
	d := reg.PushRandom(b, "team/app", "signed")
	reg.Sign(b, "team/app", d, key, nil)
	signed := reg.Ref("team/app", "signed")

	env := Start(b, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	// The benchmark's own client is not rate limited.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"shop", "portcullis-system"} {
		if err := c.Create(ctx, namespace(ns)); err != nil {
			b.Fatal(err)
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte("user:secret"))
	pull := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "shop"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, reg.Host, auth)}}
	if err := c.Create(ctx, pull); err != nil {
		b.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "shop"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	if err := c.Create(ctx, sa); err != nil {
		b.Fatal(err)
	}
	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: team-signed}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: team-key
    key:
      data: |
        %s
`, reg.Host, strings.ReplaceAll(strings.TrimSpace(string(key.PublicPEM)), "\n", "\n        "))
	for _, p := range decodeAll(b, cip) {
		if err := c.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
	}

	// run serves with o until the returned stop is called, once the API
	// server calls it.
	run := func(name string, o serve.Options) (stop func()) {
		sctx, scancel := context.WithCancel(ctx)
		o.Addr, o.Namespace, o.DNSNames, o.CertDir = "127.0.0.1:0", "portcullis-system", []string{"127.0.0.1"}, b.TempDir()
		o.ImagePolicies, o.Mutating = true, true
		ready, errc := make(chan struct{}), make(chan error, 1)
		go func() { errc <- serve.Run(sctx, env.Config, o, func(serve.Running) { close(ready) }) }()
		select {
		case <-ready:
		case err := <-errc:
			b.Fatalf("serve %s: %v", name, err)
		}
		// Wait until this server answers: it denies an unsigned image.
		for i := 0; ; i++ {
			err := c.Create(ctx, imagePod(fmt.Sprintf("probe-%s-%d", name, i), reg.Ref("team/app", "unsigned")))
			if err != nil && strings.Contains(err.Error(), "team-signed") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return func() {
			scancel()
			if err := <-errc; err != nil {
				b.Errorf("serve %s: %v", name, err)
			}
		}
	}
	create := func(prefix string, n int) time.Duration {
		start := time.Now()
		for i := range n {
			if err := c.Create(ctx, imagePod(fmt.Sprintf("%s-%d", prefix, i), signed)); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(n)
	}

	n := b.N
	stop := run("before", serve.Options{KubeAPIQPS: 5, KubeAPIBurst: 10, ObjectCacheTTL: -1})
	create("warmup-before", 5)
	before := create("before", n)
	stop()

	// The rate limits alone: every lookup still a GET.
	stop = run("limits", serve.Options{ObjectCacheTTL: -1})
	create("warmup-limits", 5)
	limits := create("limits", n)
	stop()

	stop = run("after", serve.Options{})
	create("warmup-after", 5)
	b.ResetTimer()
	after := create("after", n)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(before.Microseconds()), "µs/create-before")
	b.ReportMetric(float64(limits.Microseconds()), "µs/create-limits-only")
	b.ReportMetric(float64(after.Microseconds()), "µs/create-after")
	b.ReportMetric(float64(after)/float64(before), "ratio")
}
