package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// containerPolicies cover every container of a Pod: the Pod Security
// baseline (which looks at ephemeral containers too) and a registry
// allow-list written over the three container lists.
const containerPolicies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: pss-baseline}
spec:
  validationFailureAction: Enforce
  rules:
  - name: baseline
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      podSecurity: {level: baseline, version: latest}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: registries}
spec:
  validationFailureAction: Enforce
  rules:
  - name: approved
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: images must come from gcr.io
      pattern:
        spec:
          =(ephemeralContainers): [{image: "gcr.io/*"}]
          =(initContainers): [{image: "gcr.io/*"}]
          containers: [{image: "gcr.io/*"}]
`

// TestEphemeralContainersAndImageUpdates: the ways to change what runs in
// an existing Pod are checked by the rules on Pods, through the real API
// server. `kubectl debug` (UPDATE of pods/ephemeralcontainers) with a
// privileged container or an unapproved image is denied, and so is a Pod
// UPDATE that swaps a container's image; a compliant debug container is
// admitted.
func TestEphemeralContainersAndImageUpdates(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, containerPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir()})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, pod("probe", "apps", "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, pod("probe", "apps", "", false, false))
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied a non-compliant pod (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := env.Client.Create(ctx, pod("web", "apps", "gcr.io/app:1", true, true)); err != nil {
		t.Fatalf("compliant pod denied: %v", err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	// debug adds an ephemeral container as `kubectl debug` does: an UPDATE
	// of the pods/ephemeralcontainers subresource.
	debug := func(name, image string, privileged bool) error {
		p, err := cs.CoreV1().Pods("apps").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: image}}
		if privileged {
			yes := true
			ec.SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		}
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		_, err = cs.CoreV1().Pods("apps").UpdateEphemeralContainers(ctx, "web", p, metav1.UpdateOptions{})
		return err
	}
	t.Run("privileged ephemeral container denied", func(t *testing.T) {
		err := debug("root-shell", "gcr.io/debug:1", true)
		if err == nil || !strings.Contains(err.Error(), "pss-baseline") || !strings.Contains(err.Error(), "rivileged") {
			t.Fatalf("err = %v, want a denial by pss-baseline naming privileged", err)
		}
	})
	t.Run("ephemeral container from an unapproved registry denied", func(t *testing.T) {
		err := debug("shell", "docker.io/busybox:1", false)
		if err == nil || !strings.Contains(err.Error(), "registries") || !strings.Contains(err.Error(), "images must come from gcr.io") {
			t.Fatalf("err = %v, want a denial by registries", err)
		}
	})
	t.Run("compliant ephemeral container admitted", func(t *testing.T) {
		if err := debug("ok-shell", "gcr.io/debug:1", false); err != nil {
			t.Fatalf("compliant ephemeral container denied: %v", err)
		}
	})
	t.Run("image changed on Pod UPDATE denied", func(t *testing.T) {
		var p corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "web"}, &p); err != nil {
			t.Fatal(err)
		}
		p.Spec.Containers[0].Image = "docker.io/nginx:1"
		err := env.Client.Update(ctx, &p)
		if err == nil || !strings.Contains(err.Error(), "registries") {
			t.Fatalf("err = %v, want the new image denied by registries", err)
		}
		p.Spec.Containers[0].Image = "gcr.io/app:2"
		if err := env.Client.Update(ctx, &p); err != nil {
			t.Fatalf("approved image change denied: %v", err)
		}
	})
}
