package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestEnvtestSmoke starts a real kube-apiserver and etcd, writes a
// Namespace and a Pod through a controller-runtime client, reads them back
// and stops the control plane.
func TestEnvtestSmoke(t *testing.T) {
	env := Start(t, Options{})
	t.Logf("envtest started in %s", env.Started.Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "portcullis-e2e-",
		Labels:       map[string]string{"portcullis.dev/e2e": "smoke"},
	}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	if ns.Name == "" || ns.UID == "" {
		t.Fatalf("created namespace has no name/uid: %+v", ns.ObjectMeta)
	}

	// No kubelet runs, so the pod stays Pending; the image is never pulled.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns.Name, Labels: map[string]string{"app": "smoke"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "main",
			Image: "registry.invalid/portcullis/pause:1",
		}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatalf("create pod: %v", err)
	}

	var gotNS corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns.Name}, &gotNS); err != nil {
		t.Fatalf("get namespace %s: %v", ns.Name, err)
	}
	if gotNS.UID != ns.UID || gotNS.Labels["portcullis.dev/e2e"] != "smoke" {
		t.Errorf("namespace read back = uid %s labels %v, want uid %s with portcullis.dev/e2e=smoke",
			gotNS.UID, gotNS.Labels, ns.UID)
	}

	var gotPod corev1.Pod
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &gotPod); err != nil {
		t.Fatalf("get pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	if gotPod.UID != pod.UID || len(gotPod.Spec.Containers) != 1 ||
		gotPod.Spec.Containers[0].Image != "registry.invalid/portcullis/pause:1" {
		t.Errorf("pod read back = uid %s containers %+v, want uid %s with one container of the created image",
			gotPod.UID, gotPod.Spec.Containers, pod.UID)
	}
	// The apiserver applied its defaults, so this went through a real one.
	if gotPod.Spec.RestartPolicy != corev1.RestartPolicyAlways || gotPod.Status.Phase != corev1.PodPending {
		t.Errorf("pod defaults: restartPolicy %q phase %q, want Always / Pending",
			gotPod.Spec.RestartPolicy, gotPod.Status.Phase)
	}

	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns.Name), client.MatchingLabels{"app": "smoke"}); err != nil {
		t.Fatalf("list pods: %v", err)
	}
	if len(pods.Items) != 1 {
		t.Errorf("listed %d pods in %s, want 1", len(pods.Items), ns.Name)
	}

	host, port, dir := env.Webhook()
	if host == "" || port == 0 || dir == "" {
		t.Errorf("webhook serving not allocated: host %q port %d certDir %q", host, port, dir)
	}
}
