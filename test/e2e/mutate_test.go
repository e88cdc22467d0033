package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// mutatePolicies: pod-defaults adds a label and, per container, an
// imagePullPolicy and a securityContext default; require-team (Enforce)
// denies Pods without the label, so a Pod is admitted only when
// /validate sees the object /mutate produced.
const mutatePolicies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: pod-defaults}
spec:
  rules:
  - name: defaults
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            +(team): platform
  - name: containers
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
        patchStrategicMerge:
          spec:
            containers:
            - name: "{{ element.name }}"
              +(imagePullPolicy): IfNotPresent
              securityContext:
                +(allowPrivilegeEscalation): false
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: the team label is required
      pattern: {metadata: {labels: {team: "?*"}}}
`

// TestMutateRules: through the real API server, a Pod gets the mutate
// rules' defaults at create (and passes the validate rule that needs
// them), and a Deployment gets them in its pod template (autogen).
func TestMutateRules(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, p := range decodeAll(t, mutatePolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), Mutating: true})
	var mcfg admissionregistrationv1.MutatingWebhookConfiguration
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &mcfg)
		if err == nil && len(mcfg.Webhooks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mutating configuration: %v, %+v", err, mcfg.Webhooks)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Until both webhooks are called the Pod is denied (validate without
	// mutate) or admitted unchanged (neither): retry with fresh names.
	var got corev1.Pod
	deadline = time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		p := pod("web", "apps", "nginx:1.27", false, false)
		p.Name = "web-" + string(rune('a'+i%26))
		err := env.Client.Create(ctx, p)
		if err == nil {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
				t.Fatal(err)
			}
			if got.Labels["team"] == "platform" {
				break
			}
			_ = env.Client.Delete(ctx, p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod was never mutated (last error %v, pod %+v)", err, got.ObjectMeta)
		}
		time.Sleep(300 * time.Millisecond)
	}
	c := got.Spec.Containers[0]
	if c.ImagePullPolicy != corev1.PullIfNotPresent || c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Fatalf("container defaults not applied: %+v", c)
	}

	// A label the Pod sets is kept (add-if-not-present).
	own := pod("own", "apps", "nginx:1.27", false, false)
	own.Labels = map[string]string{"team": "web"}
	if err := env.Client.Create(ctx, own); err != nil {
		t.Fatal(err)
	}
	if own.Labels["team"] != "web" {
		t.Fatalf("own label replaced: %v", own.Labels)
	}

	// The Deployment's template gets the defaults (autogen rules).
	replicas := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}}}}
	if err := env.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	tpl := dep.Spec.Template
	if tpl.Labels["team"] != "platform" || tpl.Labels["app"] != "web" {
		t.Fatalf("template labels %v", tpl.Labels)
	}
	if dc := tpl.Spec.Containers[0]; dc.SecurityContext == nil || dc.SecurityContext.AllowPrivilegeEscalation == nil || dc.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Fatalf("template container %+v", dc)
	}
}
