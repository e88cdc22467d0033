package regauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestKeyMatching(t *testing.T) {
	cases := []struct {
		note  string
		key   string // docker config "auths" key
		image string
		want  bool
	}{
		{"host", "registry.example.com", "registry.example.com/app:v1", true},
		{"host with scheme", "https://registry.example.com", "registry.example.com/a/b", true},
		{"v1 suffix is the host", "https://registry.example.com/v1/", "registry.example.com/app", true},
		{"v2 suffix is the host", "registry.example.com/v2/", "registry.example.com/app", true},
		{"other host", "registry.example.com", "registry.example.org/app", false},
		{"subdomain is another host", "example.com", "registry.example.com/app", false},
		{"port must match", "registry.example.com:5000", "registry.example.com/app", false},
		{"port present on both", "registry.example.com:5000", "registry.example.com:5000/app", true},
		{"port missing on key", "registry.example.com", "registry.example.com:5000/app", false},
		{"wildcard label", "*.example.com", "registry.example.com/app", true},
		{"wildcard label count", "*.example.com", "a.b.example.com/app", false},
		{"wildcard apex", "*.example.com", "example.com/app", false},
		{"partial wildcard", "reg*.example.com", "registry.example.com/app", true},
		{"path prefix", "registry.example.com/team", "registry.example.com/team/app", true},
		{"path prefix other", "registry.example.com/team", "registry.example.com/other/app", false},
		{"path is a string prefix (kubelet)", "registry.example.com/team", "registry.example.com/teamfoo/app", true},
		{"hub v1 key", "https://index.docker.io/v1/", "library/nginx", true},
		{"hub v1 key, user repo", "https://index.docker.io/v1/", "docker.io/someone/app", true},
		{"hub docker.io key", "docker.io", "nginx", true},
		{"hub index key", "index.docker.io", "index.docker.io/library/nginx", true},
		{"hub path key", "docker.io/someone", "someone/app", true},
		{"hub path key other user", "docker.io/someone", "other/app", false},
		{"hub key not for others", "https://index.docker.io/v1/", "ghcr.io/someone/app", false},
		{"loopback", "127.0.0.1:5000", "127.0.0.1:5000/app", true},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			kc, warns := FromPullSecrets(jsonSecret(t, "s", map[string]any{c.key: authEntry("u", "p")}))
			if len(warns) != 0 {
				t.Fatal(warns)
			}
			if got := resolvedUser(t, kc, c.image) == "u"; got != c.want {
				t.Fatalf("key %q image %q: match %v, want %v", c.key, c.image, got, c.want)
			}
		})
	}
}

func TestResolveOrder(t *testing.T) {
	// Kubelet order: matching keys in reverse lexical order (the longer
	// path before its prefix), credentials of one key in secret order.
	kc, _ := FromPullSecrets(
		jsonSecret(t, "a", map[string]any{"reg.example.com": authEntry("host-a", "p")}),
		jsonSecret(t, "b", map[string]any{
			"reg.example.com":      authEntry("host-b", "p"),
			"reg.example.com/team": authEntry("team", "p"),
		}),
	)
	var users []string
	for _, a := range kc.ResolveAll(resource(t, "reg.example.com/team/app")) {
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, cfg.Username)
	}
	if got := strings.Join(users, ","); got != "team,host-a,host-b" {
		t.Fatalf("order %s", got)
	}
	if u := resolvedUser(t, kc, "reg.example.com/other"); u != "host-a" {
		t.Fatalf("first for other repo: %q", u)
	}
	if got := strings.Join(kc.Registries(), ","); got != "reg.example.com/team,reg.example.com" {
		t.Fatalf("registries %s", got)
	}
}

func TestEntryForms(t *testing.T) {
	kc, warns := FromPullSecrets(jsonSecret(t, "s", map[string]any{
		"unpadded.example.com": map[string]string{"auth": "dTpwcA"}, // "u:pp" without padding
		"token.example.com":    map[string]string{"identitytoken": "tok"},
		"userpass.example.com": map[string]string{"username": "x", "password": "y"},
		"colon.example.com":    authEntry("u", "p:with:colons"),
		"empty.example.com":    map[string]string{},
		"":                     authEntry("u", "p"),
	}))
	wantWarning(t, warns, `registry "empty.example.com"`, "no credentials")
	wantWarning(t, warns, `registry ""`, "not a registry location")
	check := func(image string, want authn.AuthConfig) {
		t.Helper()
		a, err := kc.Resolve(resource(t, image))
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if *got != want {
			t.Fatalf("%s: got %+v want %+v", image, *got, want)
		}
	}
	check("unpadded.example.com/a", authn.AuthConfig{Username: "u", Password: "pp"})
	check("token.example.com/a", authn.AuthConfig{IdentityToken: "tok"})
	check("userpass.example.com/a", authn.AuthConfig{Username: "x", Password: "y"})
	check("colon.example.com/a", authn.AuthConfig{Username: "u", Password: "p:with:colons"})
	if u := resolvedUser(t, kc, "empty.example.com/a"); u != "" {
		t.Fatalf("empty entry resolved to %q", u)
	}
}

func TestLookupErrorsAreReturned(t *testing.T) {
	for _, res := range []string{"secrets", "serviceaccounts"} {
		t.Run(res, func(t *testing.T) {
			cs := fake.NewClientset()
			cs.PrependReactor("get", res, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(corev1.Resource(res), "x", errors.New("RBAC"))
			})
			p := pod("")
			if res == "secrets" {
				p = pod("", "regcred")
			}
			_, _, err := ForPod(context.Background(), ClientsetReader(cs), p)
			if !errors.Is(err, ErrLookup) || !apierrors.IsForbidden(err) {
				t.Fatalf("want ErrLookup wrapping Forbidden, got %v", err)
			}
		})
	}
}

func TestClientReader(t *testing.T) {
	sa := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Namespace: testNS, Name: DefaultServiceAccount},
		ImagePullSecrets: pullRefs("regcred", "gone", ""),
	}
	sec := jsonSecret(t, "regcred", map[string]any{"reg.example.com": authEntry("u", "p")})
	c := crfake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(sa, sec).Build()
	kc, warns, err := ForPod(context.Background(), ClientReader(c), pod(""))
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, warns, "pull secret apps/gone not found")
	wantWarning(t, warns, "without a name")
	if u := resolvedUser(t, kc, "reg.example.com/app"); u != "u" {
		t.Fatalf("resolved %q", u)
	}
}

func TestDockerConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	if _, _, err := FromDockerConfig(ctx, filepath.Join(dir, "absent.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
	_, _, err := FromDockerConfig(ctx, write("bad.json", `{"auths": {"r": {"auth": "TOPSECRET`))
	if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("bad JSON: %v", err)
	}
	if _, _, err := FromDockerConfig(ctx, write("arr.json", `{"auths": []}`)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("auths not an object: %v", err)
	}
	kc, warns, err := FromDockerConfig(ctx, write("helpers.json", `{"credHelpers": {"gcr.io": "gcloud"}}`))
	if err != nil || kc.Len() != 0 {
		t.Fatalf("helpers only: %v %d", err, kc.Len())
	}
	wantWarning(t, warns, "1 credential helper(s) not used")
	kc, warns, err = FromDockerConfig(ctx, write("mixed.json",
		`{"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}, "bad.example.com": {"auth": "%%%"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, warns, `registry "bad.example.com"`, "not base64")
	if u := resolvedUser(t, kc, "nginx"); u != "u" {
		t.Fatalf("docker hub from config file: %q", u)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := FromDockerConfig(cctx, write("ok.json", `{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestChainAndZeroValues(t *testing.T) {
	var nilRing *Keyring
	if nilRing.Len() != 0 || nilRing.Registries() != nil {
		t.Fatal("nil keyring not empty")
	}
	first, _ := FromPullSecrets(jsonSecret(t, "a", map[string]any{"a.example.com": authEntry("first", "p")}))
	second, _ := FromPullSecrets(jsonSecret(t, "b", map[string]any{
		"a.example.com": authEntry("second", "p"),
		"b.example.com": authEntry("second", "p"),
	}))
	kc := Chain(nil, first, second)
	if u := resolvedUser(t, kc, "a.example.com/x"); u != "first" {
		t.Fatalf("a: %q", u)
	}
	if u := resolvedUser(t, kc, "b.example.com/x"); u != "second" {
		t.Fatalf("b: %q", u)
	}
	if u := resolvedUser(t, kc, "c.example.com/x"); u != "" {
		t.Fatalf("c should be anonymous: %q", u)
	}
	if _, _, err := ForPod(context.Background(), nil, nil); err == nil {
		t.Fatal("nil pod accepted")
	}
	if _, _, err := ForPodSpec(context.Background(), nil, "", &corev1.PodSpec{}); err == nil {
		t.Fatal("empty namespace accepted")
	}
}
