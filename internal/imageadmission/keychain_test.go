package imageadmission

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestPullSecrets: a registry that needs credentials is verified with the
// pod's imagePullSecrets; without them the check fails closed.
func TestPullSecrets(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("robot", "s3cret"))
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, reg.Host, auth)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}},
	)
	cips := loadCIPs(t, fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: private}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - key:
      data: |
%s
`, reg.Host, indent(key.PublicPEM)))
	ev, err := New(Options{Verifier: imageverify.New(imageverify.Options{}), Keychain: PullSecrets(regauth.ClientsetReader(cs))})
	if err != nil {
		t.Fatal(err)
	}
	img := reg.Ref("team/app", "signed")
	with := object(t, fmt.Sprintf(`{"kind":"Pod","metadata":{"namespace":"ns"},"spec":{"imagePullSecrets":[{"name":"pull"}],"containers":[{"name":"c","image":%q}]}}`, img))
	if dec := ev.Validate(ctxFor(t), cips, podRequest(with)); !dec.Allowed {
		t.Fatalf("with the pull secret: %+v", dec)
	}
	// A fresh verifier: verdicts are cached per digest whoever asked (the
	// image is signed either way; pulling it still needs credentials).
	ev, err = New(Options{Verifier: imageverify.New(imageverify.Options{}), Keychain: PullSecrets(regauth.ClientsetReader(cs))})
	if err != nil {
		t.Fatal(err)
	}
	without := object(t, fmt.Sprintf(`{"kind":"Pod","metadata":{"namespace":"ns"},"spec":{"containers":[{"name":"c","image":%q}]}}`, img))
	dec := ev.Validate(ctxFor(t), cips, podRequest(without))
	if dec.Allowed || !strings.Contains(dec.Message(), "401") {
		t.Fatalf("without credentials: %+v, want a denial naming the 401", dec)
	}
	if strings.Contains(dec.Message(), "s3cret") || strings.Contains(dec.Message(), auth) {
		t.Fatal("the denial leaks the credentials")
	}
}
