package regauth

import (
	"context"
	"net"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHubHost is the key the kubelet files Docker Hub credentials under
// ("https://index.docker.io/v1/" reduces to it).
const dockerHubHost = "index.docker.io"

// Keyring holds registry credentials keyed the way the kubelet keys them and
// resolves them for a registry or repository. It implements authn.Keychain:
// Resolve returns authn.Anonymous when nothing matches, so it composes with
// authn.NewMultiKeychain and Chain. A Keyring is immutable once built and
// safe for concurrent use. The zero value holds no credentials.
type Keyring struct {
	index []string                // keys, sorted in reverse lexical order
	creds map[string][]credential // key -> credentials in the order added
}

var (
	_ authn.Keychain        = (*Keyring)(nil)
	_ authn.ContextKeychain = (*Keyring)(nil)
)

// credential is one usable registry login and where it came from.
type credential struct {
	cfg    authn.AuthConfig
	origin string // "secret ns/name", "file path": never the contents
}

// add files cred under the registry location loc (a docker config "auths"
// key). It returns false when loc cannot be parsed as a registry location.
func (k *Keyring) add(loc string, cred credential) bool {
	key, ok := registryKey(loc)
	if !ok {
		return false
	}
	if k.creds == nil {
		k.creds = map[string][]credential{}
	}
	if _, seen := k.creds[key]; !seen {
		k.index = append(k.index, key)
		sort.Sort(sort.Reverse(sort.StringSlice(k.index)))
	}
	k.creds[key] = append(k.creds[key], cred)
	return true
}

// Len is the number of credentials held.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	n := 0
	for _, cs := range k.creds {
		n += len(cs)
	}
	return n
}

// Registries lists the registry keys credentials are held for (host[:port]
// with an optional path; wildcards kept), most specific first. It contains
// no secret material.
func (k *Keyring) Registries() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.index...)
}

// Resolve implements authn.Keychain: the first matching credential, or
// authn.Anonymous.
func (k *Keyring) Resolve(target authn.Resource) (authn.Authenticator, error) {
	all := k.ResolveAll(target)
	if len(all) == 0 {
		return authn.Anonymous, nil
	}
	return all[0], nil
}

// ResolveContext implements authn.ContextKeychain; resolving does no I/O.
func (k *Keyring) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	return k.Resolve(target)
}

// ResolveAll returns every credential that matches target in the order the
// kubelet would try them (it tries each until a pull succeeds; an
// authn.Keychain can only offer the first).
func (k *Keyring) ResolveAll(target authn.Resource) []authn.Authenticator {
	var out []authn.Authenticator
	for _, c := range k.lookup(target) {
		out = append(out, authn.FromConfig(c.cfg))
	}
	return out
}

// lookup mirrors the kubelet's BasicDockerKeyring.Lookup for target.
func (k *Keyring) lookup(target authn.Resource) []credential {
	if k == nil {
		return nil
	}
	image := kubeletImage(target)
	var out []credential
	for _, key := range k.index {
		if keyMatches(key, image) {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) == 0 && isDockerHub(image) {
		out = append(out, k.creds[dockerHubHost]...)
	}
	return out
}

// kubeletImage renders target the way the kubelet names images when it
// looks up credentials: Docker Hub as "docker.io/...", everything else as
// go-containerregistry prints it ("host[:port]/repo").
func kubeletImage(target authn.Resource) string {
	s := target.String()
	if target.RegistryStr() == name.DefaultRegistry {
		rest := strings.TrimPrefix(s, name.DefaultRegistry)
		return "docker.io" + rest
	}
	return s
}

// isDockerHub reports whether the kubelet treats image as a Docker Hub image
// (its isDefaultRegistryMatch).
func isDockerHub(image string) bool {
	host, _, found := strings.Cut(image, "/")
	if host == "" {
		return false
	}
	if !found || host == "docker.io" || host == dockerHubHost {
		return true
	}
	return !strings.ContainsAny(host, ".:")
}

// registryKey reduces a docker config location ("https://host:port/v1/",
// "host/path", "*.example.com") to the kubelet's key: host[:port] plus the
// path, without a leading /v1 or /v2 and without a lone "/".
func registryKey(loc string) (string, bool) {
	v := loc
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/") {
		p = p[3:]
	}
	if p == "" || p == "/" {
		return u.Host, true
	}
	return u.Host + p, true
}

// keyMatches is the kubelet's URLsMatch: equal ports, equal number of host
// labels each matching the key's glob label, and the key's path a string
// prefix of the image's path.
func keyMatches(key, image string) bool {
	ku, err := url.Parse("https://" + key)
	if err != nil {
		return false
	}
	iu, err := url.Parse("https://" + image)
	if err != nil {
		return false
	}
	kLabels, kPort := splitHost(ku.Host)
	iLabels, iPort := splitHost(iu.Host)
	if kPort != iPort || len(kLabels) != len(iLabels) {
		return false
	}
	if !strings.HasPrefix(iu.Path, ku.Path) {
		return false
	}
	for i, pattern := range kLabels {
		ok, err := path.Match(pattern, iLabels[i])
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// splitHost splits "a.b.c:port" into its DNS labels and port.
func splitHost(hostport string) ([]string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}

// Chain combines keychains in order: the first one that resolves a target
// to something other than authn.Anonymous wins; anonymous access is the
// fallback. nil keychains are skipped.
func Chain(kcs ...authn.Keychain) authn.Keychain {
	var out []authn.Keychain
	for _, kc := range kcs {
		if kc != nil {
			out = append(out, kc)
		}
	}
	return authn.NewMultiKeychain(out...)
}
