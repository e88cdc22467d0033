package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func imagePod(name, image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
}

// TestImagePolicyAdmission runs ClusterImagePolicies through a real API
// server against a real registry: signed images are admitted and pinned
// to their digest, unsigned ones and unreachable registries denied with
// a message naming the image, the policy and the failure.
func TestImagePolicyAdmission(t *testing.T) {
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	signedDigest := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", signedDigest, key, nil)
	reg.PushRandom(t, "team/app", "unsigned")
	signed, unsigned := reg.Ref("team/app", "signed"), reg.Ref("team/app", "unsigned")

	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"shop", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
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
	kd := reg.PushRandom(t, "kyv/app", "signed")
	reg.Sign(t, "kyv/app", kd, key, nil)
	reg.PushRandom(t, "kyv/app", "unsigned")
	cip += fmt.Sprintf(`---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: kyverno-signed}
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-signature
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/kyv/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |
              %s
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`, reg.Host, strings.ReplaceAll(strings.TrimSpace(string(key.PublicPEM)), "\n", "\n              "))
	for _, p := range decodeAll(t, cip) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), ImagePolicies: true, Mutating: true})

	// Wait for the API server to call the webhooks.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, imagePod("probe", unsigned))
		if err != nil && strings.Contains(err.Error(), "team-signed") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, imagePod("probe", unsigned))
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied an unsigned image (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("signed image admitted and pinned to its digest", func(t *testing.T) {
		if err := env.Client.Create(ctx, imagePod("signed", signed)); err != nil {
			t.Fatalf("signed pod denied: %v", err)
		}
		var got corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "signed"}, &got); err != nil {
			t.Fatal(err)
		}
		if want := signed + "@" + signedDigest.String(); got.Spec.Containers[0].Image != want {
			t.Fatalf("stored image = %q, want %q", got.Spec.Containers[0].Image, want)
		}
	})
	t.Run("unsigned image denied", func(t *testing.T) {
		err := env.Client.Create(ctx, imagePod("unsigned", unsigned))
		if err == nil {
			t.Fatal("unsigned pod admitted")
		}
		for _, want := range []string{unsigned, "spec.containers[0].image", "ClusterImagePolicy team-signed", "team-key: no signature"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("denial %q lacks %q", err, want)
			}
		}
	})
	t.Run("unsigned ephemeral container and image swapped on UPDATE denied", func(t *testing.T) {
		var p corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "signed"}, &p); err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		dbg := p.DeepCopy()
		dbg.Spec.EphemeralContainers = append(dbg.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: unsigned}})
		_, err = cs.CoreV1().Pods("shop").UpdateEphemeralContainers(ctx, "signed", dbg, metav1.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), "spec.ephemeralContainers[0].image") || !strings.Contains(err.Error(), "team-signed") {
			t.Fatalf("kubectl debug with an unsigned image: err = %v, want a denial naming the ephemeral container", err)
		}
		p.Spec.Containers[0].Image = unsigned
		if err := env.Client.Update(ctx, &p); err == nil || !strings.Contains(err.Error(), "team-signed") {
			t.Fatalf("image swapped to an unsigned one on UPDATE: err = %v, want a denial by team-signed", err)
		}
	})
	t.Run("deployment with an unsigned template denied", func(t *testing.T) {
		labels := map[string]string{"app": "web"}
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: unsigned}}}}}}
		err := env.Client.Create(ctx, dep)
		if err == nil || !strings.Contains(err.Error(), "spec.template.spec.containers[0].image") {
			t.Fatalf("err = %v, want a denial naming the template image", err)
		}
	})
	t.Run("registry down denies with a clear reason", func(t *testing.T) {
		reg.SetFault(func(*http.Request) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
		defer reg.SetFault(nil)
		err := env.Client.Create(ctx, imagePod("down", reg.Ref("team/app", "never-seen")))
		if err == nil || !strings.Contains(err.Error(), "registry unreachable") {
			t.Fatalf("err = %v, want a denial saying the registry is unreachable", err)
		}
	})
	t.Run("Kyverno verifyImages: signed admitted and pinned, unsigned denied", func(t *testing.T) {
		img := reg.Ref("kyv/app", "signed")
		if err := env.Client.Create(ctx, imagePod("kyv-signed", img)); err != nil {
			t.Fatalf("signed pod denied: %v", err)
		}
		var got corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "kyv-signed"}, &got); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(got.Spec.Containers[0].Image, "@"+kd.String()) {
			t.Fatalf("stored image = %q, want it pinned to %s", got.Spec.Containers[0].Image, kd)
		}
		err := env.Client.Create(ctx, imagePod("kyv-unsigned", reg.Ref("kyv/app", "unsigned")))
		if err == nil || !strings.Contains(err.Error(), "kyverno-signed") || !strings.Contains(err.Error(), "check-signature") {
			t.Fatalf("err = %v, want a denial by kyverno-signed/check-signature", err)
		}
	})
	t.Run("malformed ClusterImagePolicy refused", func(t *testing.T) {
		bad := decodeAll(t, `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: bad}
spec:
  images: [{glob: "ghcr.io/**"}]
  mode: sometimes
  authorities:
  - keyless: {url: "https://fulcio.example"}
`)[0]
		err := env.Client.Create(ctx, bad)
		if err == nil || !strings.Contains(err.Error(), "mode") || !strings.Contains(err.Error(), "identities") {
			t.Fatalf("err = %v, want the mode and missing identities refused", err)
		}
	})
}
