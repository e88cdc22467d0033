package regauth

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzDockerConfig feeds arbitrary docker config / pull-secret content and
// image repositories to the parser and the registry matching: neither may
// panic, an accepted config must hold only credentials it can serve, and
// resolving any repository against it must succeed or fail cleanly.
//
//	go test -run '^$' -fuzz '^FuzzDockerConfig$' -fuzztime 5m ./internal/regauth/
func FuzzDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}}`), "ghcr.io/org/app")
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`), "library/nginx")
	f.Add([]byte(`{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}`), "ghcr.io/org/app")
	f.Add([]byte(`{"auths":{"*.example.com:5000/team":{"auth":"Og=="}}}`), "a.example.com:5000/team/x")
	f.Add([]byte(`{"auths":{"registry.local":{"identitytoken":"t","auth":"!!"}}}`), "registry.local/x")
	f.Add([]byte(`{"credHelpers":{"gcr.io":"gcloud"},"auths":null}`), "gcr.io/p/i")
	f.Add([]byte(`not json`), "")
	f.Fuzz(func(t *testing.T, data []byte, repo string) {
		kr, warnings, err := ParseDockerConfig(data, "fuzz")
		if err != nil {
			if kr != nil && kr.Len() != 0 {
				t.Fatalf("error %v returned with %d credentials", err, kr.Len())
			}
			return
		}
		_ = warnings
		if kr == nil {
			t.Fatal("nil keyring without an error")
		}
		_ = kr.Registries()
		r, perr := name.NewRepository(repo)
		if perr != nil {
			return
		}
		auth, err := kr.Resolve(r)
		if err == nil && auth == nil {
			t.Fatalf("Resolve(%s) returned neither an authenticator nor an error", repo)
		}
		for _, a := range kr.ResolveAll(r) {
			if _, err := a.Authorization(); err != nil {
				t.Fatalf("a stored credential for %s cannot be served: %v", repo, err)
			}
		}
	})
}
