package regauth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// authRegistry starts a registry requiring u/p with one pushed image and
// returns it with the proxy-side reference of the image.
func authRegistry(t *testing.T) (*registrytest.Registry, string) {
	t.Helper()
	reg := registrytest.Start(t, registrytest.WithBasicAuth("alice", "s3cret-pw"))
	reg.PushRandom(t, "team/app", "v1")
	return reg, reg.Ref("team/app", "v1")
}

func pod(sa string, secrets ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "p"},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			ImagePullSecrets:   pullRefs(secrets...),
			Containers:         []corev1.Container{{Name: "c", Image: "x"}},
		},
	}
}

func TestRegistryAnonymousIsRefused(t *testing.T) {
	_, ref := authRegistry(t)
	wantStatus(t, head(t, ref, Chain(), nil), 401)
}

func TestRegistryPodPullSecret(t *testing.T) {
	reg, ref := authRegistry(t)
	cs := fake.NewClientset(jsonSecret(t, "regcred", map[string]any{reg.Host: authEntry("alice", "s3cret-pw")}))
	kc, warns, err := ForPod(context.Background(), ClientsetReader(cs), pod("", "regcred"))
	if err != nil {
		t.Fatal(err)
	}
	// The pod lists pull secrets, so its service account is not consulted
	// (and its absence is no warning).
	if len(warns) != 0 {
		t.Fatalf("warnings: %q", warns)
	}
	for _, a := range cs.Actions() {
		if a.GetResource().Resource == "serviceaccounts" {
			t.Fatalf("service account read although the pod lists pull secrets: %v", a)
		}
	}
	if err := head(t, ref, Chain(kc), nil); err != nil {
		t.Fatalf("head with pod pull secret: %v", err)
	}
}

func TestRegistryServiceAccountPullSecret(t *testing.T) {
	reg, ref := authRegistry(t)
	sa := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Namespace: testNS, Name: "builder"},
		ImagePullSecrets: pullRefs("legacy"),
	}
	// Legacy dockercfg type with username/password instead of auth.
	sec := cfgSecret(t, "legacy", map[string]any{"http://" + reg.Host: map[string]string{"username": "alice", "password": "s3cret-pw"}})
	r := ClientsetReader(fake.NewClientset(sa, sec))

	kc, warns, err := ForPod(context.Background(), r, pod("builder"))
	if err != nil || len(warns) != 0 {
		t.Fatalf("ForPod: %v %q", err, warns)
	}
	if err := head(t, ref, Chain(kc), nil); err != nil {
		t.Fatalf("head with service account pull secret: %v", err)
	}

	// A workload's pod template, through the same path.
	spec := pod("builder").Spec
	kc, _, err = ForPodSpec(context.Background(), r, testNS, &spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, ref, Chain(kc), nil); err != nil {
		t.Fatalf("head with pod template: %v", err)
	}

	// Without a service account name the "default" one is used: here it
	// does not exist, which is a warning and anonymous access.
	kc, warns, err = ForPod(context.Background(), r, pod(""))
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, warns, "service account apps/default not found")
	wantStatus(t, head(t, ref, Chain(kc), nil), 401)
}

func TestRegistryDockerConfigFile(t *testing.T) {
	reg, ref := authRegistry(t)
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := `{"auths": {"` + reg.Host + `": {"auth": "` + authEntry("alice", "s3cret-pw")["auth"] + `"}},
	         "credsStore": "desktop"}`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	kc, warns, err := FromDockerConfig(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, warns, `credential store "desktop" is not used`)
	if err := head(t, ref, Chain(kc), nil); err != nil {
		t.Fatalf("head with docker config: %v", err)
	}
}

func TestRegistryWrongPassword(t *testing.T) {
	reg, ref := authRegistry(t)
	kc, warns := FromPullSecrets(jsonSecret(t, "regcred", map[string]any{reg.Host: authEntry("alice", "wrong")}))
	if len(warns) != 0 {
		t.Fatal(warns)
	}
	wantStatus(t, head(t, ref, Chain(kc), nil), 401)

	// GET carries the registry's error body: the reason is spelled out.
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(r, remote.WithAuthFromKeychain(Chain(kc)), remote.WithContext(context.Background()))
	wantStatus(t, err, 401)
	if !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("want the registry's UNAUTHORIZED code in %q", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestRegistryCredentialForOtherHostIsNotSent(t *testing.T) {
	reg, ref := authRegistry(t)
	// reg.Direct is the registry itself, reg.Host the proxy: same IP,
	// other port, so another registry in the kubelet's eyes.
	host, _, _ := strings.Cut(reg.Host, ":")
	kc, _ := FromPullSecrets(jsonSecret(t, "other", map[string]any{
		reg.Direct:                      authEntry("alice", "s3cret-pw"),
		host:                            authEntry("alice", "s3cret-pw"), // no port
		"registry.example.com":          authEntry("alice", "s3cret-pw"),
		reg.Host + "/another-team":      authEntry("alice", "s3cret-pw"), // other path
		"*.example.com":                 authEntry("alice", "s3cret-pw"),
		"https://index.docker.io/v1/":   authEntry("alice", "s3cret-pw"),
		"localhost:" + portOf(reg.Host): authEntry("alice", "s3cret-pw"),
	}))
	if u := resolvedUser(t, kc, ref); u != "" {
		t.Fatalf("resolved %q for %s", u, ref)
	}
	rec := &recorder{}
	wantStatus(t, head(t, ref, Chain(kc), rec), 401)
	if h := rec.headers(); len(h) != 0 {
		t.Fatalf("credentials sent: %q", h)
	}

	// The same registry under a wildcard key and a matching path is used.
	labels := strings.SplitN(reg.Host, ".", 2)
	kc, _ = FromPullSecrets(jsonSecret(t, "wild", map[string]any{"*." + labels[1] + "/team": authEntry("alice", "s3cret-pw")}))
	rec = &recorder{}
	if err := head(t, ref, Chain(kc), rec); err != nil {
		t.Fatalf("head with wildcard key: %v", err)
	}
	if h := rec.headers(); len(h) == 0 || !strings.HasPrefix(h[0], reg.Host+" Basic") {
		t.Fatalf("want basic credentials sent to %s, got %q", reg.Host, h)
	}
}

func portOf(hostport string) string {
	_, p, _ := strings.Cut(hostport, ":")
	return p
}

func TestRegistryMalformedSecretsAreSkipped(t *testing.T) {
	reg, ref := authRegistry(t)
	good := jsonSecret(t, "good", map[string]any{reg.Host: authEntry("alice", "s3cret-pw")})
	badJSON := rawSecret("bad-json", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, []byte(`{"auths": {"h": {"auth": "TOPSECRET`))
	badB64 := jsonSecret(t, "bad-b64", map[string]any{reg.Host: map[string]string{"auth": "!!TOPSECRET!!"}})
	noColon := jsonSecret(t, "no-colon", map[string]any{reg.Host: map[string]string{"auth": "VE9QU0VDUkVU"}}) // "TOPSECRET"
	opaque := rawSecret("opaque", corev1.SecretTypeOpaque, corev1.DockerConfigJsonKey, good.Data[corev1.DockerConfigJsonKey])
	wrongKey := rawSecret("wrong-key", corev1.SecretTypeDockerConfigJson, "config.json", good.Data[corev1.DockerConfigJsonKey])
	badCfg := rawSecret("bad-cfg", corev1.SecretTypeDockercfg, corev1.DockerConfigKey, []byte(`["TOPSECRET"]`))
	noAuths := rawSecret("no-auths", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, []byte(`{"TOPSECRET": 1}`))

	cs := fake.NewClientset(badJSON, badB64, noColon, opaque, wrongKey, badCfg, noAuths, good)
	p := pod("", "bad-json", "bad-b64", "no-colon", "opaque", "wrong-key", "bad-cfg", "no-auths", "missing", "good")
	kc, warns, err := ForPod(context.Background(), ClientsetReader(cs), p)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, warns, "secret apps/bad-json", "not valid JSON")
	wantWarning(t, warns, "secret apps/bad-b64", reg.Host, "not base64")
	wantWarning(t, warns, "secret apps/no-colon", `base64("username:password")`)
	wantWarning(t, warns, "secret apps/opaque", `type "Opaque"`)
	wantWarning(t, warns, "secret apps/wrong-key", `no ".dockerconfigjson" data`)
	wantWarning(t, warns, "secret apps/bad-cfg", "unexpected JSON array")
	wantWarning(t, warns, "secret apps/no-auths", `no "auths"`)
	wantWarning(t, warns, "pull secret apps/missing not found")
	for _, w := range warns {
		if strings.Contains(w, "TOPSECRET") || strings.Contains(w, "s3cret") {
			t.Fatalf("warning leaks secret data: %q", w)
		}
	}
	if kc.Len() != 1 {
		t.Fatalf("want only the good credential, have %d: %v", kc.Len(), kc.Registries())
	}
	if err := head(t, ref, Chain(kc), nil); err != nil {
		t.Fatalf("head with the remaining good secret: %v", err)
	}
}
