package regauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testNS = "apps"

// authEntry is a docker config "auths" value using the base64 auth field.
func authEntry(user, pass string) map[string]string {
	return map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
}

// jsonSecret is a kubernetes.io/dockerconfigjson pull secret.
func jsonSecret(t testing.TB, name string, auths map[string]any) *corev1.Secret {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: b},
	}
}

// cfgSecret is a legacy kubernetes.io/dockercfg pull secret.
func cfgSecret(t testing.TB, name string, auths map[string]any) *corev1.Secret {
	t.Helper()
	b, err := json.Marshal(auths)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: b},
	}
}

// rawSecret is a secret with the given type and data.
func rawSecret(name string, typ corev1.SecretType, key string, data []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Type:       typ,
		Data:       map[string][]byte{key: data},
	}
}

func pullRefs(names ...string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

// recorder records the Authorization headers sent through it.
type recorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		r.mu.Lock()
		r.sent = append(r.sent, req.URL.Host+" "+strings.Fields(h)[0])
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) headers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// head runs remote.Head on ref with kc through rt (nil: default transport).
func head(t testing.TB, ref string, kc authn.Keychain, rt http.RoundTripper) error {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithContext(ctx),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
	if rt != nil {
		opts = append(opts, remote.WithTransport(rt))
	}
	_, err = remote.Head(r, opts...)
	return err
}

// wantStatus fails unless err is a registry error with the HTTP status.
func wantStatus(t testing.TB, err error, status int) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != status {
		t.Fatalf("want HTTP %d from the registry, got %v", status, err)
	}
}

// resource parses s as a repository for Resolve.
func resource(t testing.TB, s string) authn.Resource {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r.Context()
}

// resolvedUser is the username Resolve yields for image ("" = anonymous).
func resolvedUser(t testing.TB, kc authn.Keychain, image string) string {
	t.Helper()
	a, err := kc.Resolve(resource(t, image))
	if err != nil {
		t.Fatal(err)
	}
	if a == authn.Anonymous {
		return ""
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Username
}

func wantWarning(t testing.TB, warns []string, parts ...string) {
	t.Helper()
	for _, w := range warns {
		all := true
		for _, p := range parts {
			if !strings.Contains(w, p) {
				all = false
			}
		}
		if all {
			return
		}
	}
	t.Fatalf("no warning containing %q in %q", parts, warns)
}
