package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/portcullis/portcullis/internal/vcache"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const vcacheKeySecret = "portcullis-verification-key"

// vcacheEnv is an API server with serve running the verification cache
// against a real registry, the verifier's in-process cache off (every
// admission a cold replica).
type vcacheEnv struct {
	env                     *Env
	cs                      *kubernetes.Clientset
	reg                     *registrytest.Registry
	key                     registrytest.Key
	signed, unsigned, other string // tags
	signedPin, unsignedPin  string
	otherPin                string // another signed repository
	kyvPin                  string // signed, under the Kyverno verifyImages policy
	cip                     string // the ClusterImagePolicy's YAML
	overlap, resync         time.Duration
}

func startVCache(t *testing.T) *vcacheEnv {
	t.Helper()
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	ud := reg.PushRandom(t, "team/app", "unsigned")
	od := reg.PushRandom(t, "team/other", "v1")
	reg.Sign(t, "team/other", od, key, nil)
	kd := reg.PushRandom(t, "kyv/app", "signed")
	reg.Sign(t, "kyv/app", kd, key, nil)
	v := &vcacheEnv{reg: reg, key: key, kyvPin: reg.Ref("kyv/app", "signed") + "@" + kd.String(),
		signed: reg.Ref("team/app", "signed"), unsigned: reg.Ref("team/app", "unsigned"), other: reg.Ref("team/other", "v1"),
		signedPin: reg.Ref("team/app", "signed") + "@" + d.String(), unsignedPin: reg.Ref("team/app", "unsigned") + "@" + ud.String(),
		otherPin: reg.Ref("team/other", "v1") + "@" + od.String(),
		overlap:  4 * time.Second, resync: 200 * time.Millisecond,
	}
	v.env = Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"shop", "other", "portcullis-system"} {
		if err := v.env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	v.cip = fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
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
	kyv := fmt.Sprintf(`apiVersion: portcullis.dev/v1
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
	for _, p := range decodeAll(t, v.cip+"---\n"+kyv) {
		if err := v.env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if v.cs, err = kubernetes.NewForConfig(v.env.Config); err != nil {
		t.Fatal(err)
	}
	startServe(ctx, t, v.env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), ImagePolicies: true, Mutating: true,
		Images:            imageverify.Options{TTL: -1, NegativeTTL: -1, TagTTL: -1},
		VerificationCache: true, VerificationKeySecret: vcacheKeySecret,
		VerificationKeyOverlap: v.overlap, VerificationKeyResync: v.resync})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := v.env.Client.Create(ctx, imagePod("probe", v.unsigned))
		if err != nil && strings.Contains(err.Error(), "team-signed") {
			break
		}
		if err == nil {
			_ = v.env.Client.Delete(ctx, imagePod("probe", v.unsigned))
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied an unsigned image (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The key Secret was created by serve.
	v.keySet(t)
	return v
}

// keySet reads the signing keys from the Secret.
func (v *vcacheEnv) keySet(t *testing.T) vcache.KeySet {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sec, err := v.cs.CoreV1().Secrets("portcullis-system").Get(context.Background(), vcacheKeySecret, metav1.GetOptions{})
		if err == nil {
			ks, err := vcache.ParseKeySet(sec.Data["keys.json"])
			if err != nil {
				t.Fatalf("key Secret: %v", err)
			}
			return ks
		}
		if time.Now().After(deadline) {
			t.Fatalf("key Secret %s never created: %v", vcacheKeySecret, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func labelsWeb(name string) map[string]string { return map[string]string{"app": name} }

func vcacheDeployment(ns, name, image string) *appsv1.Deployment {
	replicas := int32(3)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labelsWeb(name)},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labelsWeb(name)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}}}
}

// replicaSetOf is the ReplicaSet the Deployment controller makes (envtest
// runs no controllers): the template copied with a pod-template-hash.
func replicaSetOf(dep *appsv1.Deployment, hash string) *appsv1.ReplicaSet {
	tmpl := *dep.Spec.Template.DeepCopy()
	tmpl.Labels["pod-template-hash"] = hash
	sel := dep.Spec.Selector.DeepCopy()
	sel.MatchLabels["pod-template-hash"] = hash
	ctrl := true
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: dep.Name + "-" + hash, Namespace: dep.Namespace,
		Labels:          tmpl.Labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &ctrl}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: dep.Spec.Replicas, Selector: sel, Template: tmpl}}
}

// podOf is a Pod the ReplicaSet controller makes from rs's template.
func podOf(rs *appsv1.ReplicaSet, i int) *corev1.Pod {
	tmpl := rs.Spec.Template.DeepCopy()
	ctrl := true
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", rs.Name, i), Namespace: rs.Namespace,
		Labels: tmpl.Labels, Annotations: tmpl.Annotations,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &ctrl}}},
		Spec: tmpl.Spec}
}

func annotatedPod(ns, name, image, annotation string) *corev1.Pod {
	p := imagePod(name, image)
	p.Namespace = ns
	p.Annotations = map[string]string{vcache.Annotation: annotation}
	return p
}

// TestVerificationCache runs the signed verification cache through a
// real API server, registry and cosign signatures.
func TestVerificationCache(t *testing.T) {
	v := startVCache(t)
	ctx := context.Background()
	c := v.env.Client

	// The Deployment is verified (registry requests), ReplicaSet and
	// Pods made from its template are not.
	v.reg.Reset()
	dep := vcacheDeployment("shop", "web", v.signed)
	if err := c.Create(ctx, dep); err != nil {
		t.Fatalf("signed Deployment denied: %v", err)
	}
	depRequests := v.reg.Count()
	if depRequests == 0 {
		t.Fatal("the Deployment was admitted without registry requests")
	}
	ann := dep.Spec.Template.Annotations[vcache.Annotation]
	if ann == "" || dep.Spec.Template.Spec.Containers[0].Image != v.signedPin {
		t.Fatalf("stored template: image %q, annotation %q; want the pinned image and a record", dep.Spec.Template.Spec.Containers[0].Image, ann)
	}
	v.reg.Reset()
	rs := replicaSetOf(dep, "abc123")
	if err := c.Create(ctx, rs); err != nil {
		t.Fatalf("ReplicaSet denied: %v", err)
	}
	for i := range 3 {
		if err := c.Create(ctx, podOf(rs, i)); err != nil {
			t.Fatalf("Pod %d denied: %v", i, err)
		}
	}
	if n := v.reg.Count(); n != 0 {
		t.Fatalf("ReplicaSet and 3 Pods made %d registry requests, want 0: %v", n, v.reg.Log())
	}
	t.Logf("Deployment: %d registry requests; ReplicaSet and 3 Pods: 0", depRequests)

	t.Run("Kyverno verifyImages: ReplicaSet and Pods need no registry request", func(t *testing.T) {
		v.reg.Reset()
		dep := vcacheDeployment("shop", "kyv", v.kyvPin)
		if err := c.Create(ctx, dep); err != nil {
			t.Fatalf("signed Deployment denied: %v", err)
		}
		if v.reg.Count() == 0 || dep.Spec.Template.Annotations[vcache.Annotation] == "" {
			t.Fatalf("Deployment: %d registry requests, record %q", v.reg.Count(), dep.Spec.Template.Annotations[vcache.Annotation])
		}
		v.reg.Reset()
		rs := replicaSetOf(dep, "k1")
		if err := c.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := c.Create(ctx, podOf(rs, i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := v.reg.Count(); n != 0 {
			t.Fatalf("ReplicaSet and 3 Pods made %d registry requests, want 0: %v", n, v.reg.Log())
		}
	})
	t.Run("copied to a Pod with an unsigned image: verified and denied", func(t *testing.T) {
		v.reg.Reset()
		err := c.Create(ctx, annotatedPod("shop", "copied-unsigned", v.unsignedPin, ann))
		if err == nil || !strings.Contains(err.Error(), "no signature") || v.reg.Count() == 0 {
			t.Fatalf("err = %v after %d registry requests, want a denial from the registry's answer", err, v.reg.Count())
		}
	})
	t.Run("copied to a Pod with another signed image: verified from the registry", func(t *testing.T) {
		v.reg.Reset()
		if err := c.Create(ctx, annotatedPod("shop", "copied-other", v.otherPin, ann)); err != nil || v.reg.Count() == 0 {
			t.Fatalf("err = %v, %d registry requests, want admitted after asking the registry", err, v.reg.Count())
		}
	})
	parts := strings.Split(ann, ".")
	sig := []byte(parts[3])
	sig[3] = "AB"[boolIndex(sig[3] == 'A')]
	edited := strings.Join([]string{parts[0], parts[1], parts[2], string(sig)}, ".")
	ks := v.keySet(t)
	rec, reason, err := vcache.Open(ann, ks, time.Now())
	if reason != "" {
		t.Fatalf("the stored record does not open with the Secret's key: %s %v", reason, err)
	}
	expiredRec := *rec
	expiredRec.VerifiedAt, expiredRec.ExpiresAt = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	expired, err := vcache.Seal(expiredRec, ks)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := vcache.NewKeySet(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := vcache.Seal(*rec, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, ns, value string }{
		{"replayed into another namespace", "other", ann},
		{"one byte edited", "shop", edited},
		{"signed by another key", "shop", forged},
		{"expired", "shop", expired},
	} {
		t.Run(tc.name+" is ignored", func(t *testing.T) {
			v.reg.Reset()
			if err := c.Create(ctx, annotatedPod(tc.ns, "signed-"+strings.ReplaceAll(tc.name, " ", "-"), v.signedPin, tc.value)); err != nil {
				t.Fatalf("signed image denied: %v", err)
			}
			if v.reg.Count() == 0 {
				t.Fatal("admitted without registry requests: the record was trusted")
			}
			err := c.Create(ctx, annotatedPod(tc.ns, "unsigned-"+strings.ReplaceAll(tc.name, " ", "-"), v.unsignedPin, tc.value))
			if err == nil {
				t.Fatal("unsigned image admitted")
			}
		})
	}

	t.Run("survives kubectl rollout restart", func(t *testing.T) {
		patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339))
		var got appsv1.Deployment
		got.Name, got.Namespace = "web", "shop"
		v.reg.Reset()
		if err := c.Patch(ctx, &got, client.RawPatch(types.StrategicMergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Template.Annotations[vcache.Annotation] != ann {
			t.Fatalf("record after rollout restart = %.30q, want it unchanged", got.Spec.Template.Annotations[vcache.Annotation])
		}
		if n := v.reg.Count(); n != 0 {
			t.Fatalf("rollout restart made %d registry requests", n)
		}
		rs := replicaSetOf(&got, "def456")
		if err := c.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, podOf(rs, 0)); err != nil {
			t.Fatal(err)
		}
		if n := v.reg.Count(); n != 0 {
			t.Fatalf("the new ReplicaSet and its Pod made %d registry requests", n)
		}
	})

	t.Run("key rotation: previous key valid during the overlap only", func(t *testing.T) {
		old := v.keySet(t)
		sec, err := v.cs.CoreV1().Secrets("portcullis-system").Get(ctx, vcacheKeySecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sec.Annotations == nil {
			sec.Annotations = map[string]string{}
		}
		sec.Annotations[serve.VerificationKeyRotateAnnotation] = "1"
		if _, err := v.cs.CoreV1().Secrets("portcullis-system").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		rotatedAt := time.Now()
		deadline := rotatedAt.Add(10 * time.Second)
		for v.keySet(t).Current.ID == old.Current.ID {
			if time.Now().After(deadline) {
				t.Fatal("the key was not rotated")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(3 * v.resync) // every replica re-reads the Secret
		// A new Deployment is signed by the new key.
		dep2 := vcacheDeployment("shop", "web2", v.signed)
		if err := c.Create(ctx, dep2); err != nil {
			t.Fatal(err)
		}
		if newAnn := dep2.Spec.Template.Annotations[vcache.Annotation]; strings.HasPrefix(newAnn, "v1."+old.Current.ID+".") || newAnn == "" {
			t.Fatalf("record after rotation %.30q, want one of the new key", newAnn)
		}
		v.reg.Reset()
		if err := c.Create(ctx, annotatedPod("shop", "overlap", v.signedPin, ann)); err != nil || v.reg.Count() != 0 {
			t.Fatalf("previous key inside the overlap: err %v, %d registry requests, want 0", err, v.reg.Count())
		}
		time.Sleep(time.Until(rotatedAt.Add(v.overlap + time.Second)))
		v.reg.Reset()
		if err := c.Create(ctx, annotatedPod("shop", "after-overlap", v.signedPin, ann)); err != nil || v.reg.Count() == 0 {
			t.Fatalf("previous key after the overlap: err %v, %d registry requests, want the registry asked", err, v.reg.Count())
		}
		v.reg.Reset()
		if err := c.Create(ctx, annotatedPod("shop", "new-key", v.signedPin, dep2.Spec.Template.Annotations[vcache.Annotation])); err != nil || v.reg.Count() != 0 {
			t.Fatalf("new key: err %v, %d registry requests", err, v.reg.Count())
		}
	})

	t.Run("made under an older version of the policy is ignored", func(t *testing.T) {
		var fresh appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web2"}, &fresh); err != nil {
			t.Fatal(err)
		}
		current := fresh.Spec.Template.Annotations[vcache.Annotation]
		p := decodeAll(t, strings.Replace(v.cip, "name: team-key", "name: team-key-v2", 1))[0]
		var live = decodeAll(t, v.cip)[0]
		if err := c.Get(ctx, client.ObjectKey{Name: "team-signed"}, live); err != nil {
			t.Fatal(err)
		}
		p.SetResourceVersion(live.GetResourceVersion())
		if err := c.Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		// Wait until the webhook uses the new version: a record of the
		// old one stops answering.
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			v.reg.Reset()
			if err := c.Create(ctx, annotatedPod("shop", fmt.Sprintf("policy-v2-%d", i), v.signedPin, current)); err != nil {
				t.Fatal(err)
			}
			if v.reg.Count() > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a record of the previous policy version still answers")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}
