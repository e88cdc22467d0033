package imageref

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

const (
	sha    = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha512 = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

// TestParse checks the go-containerregistry view of every form of reference,
// and that it is exactly what name.ParseReference says.
func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                   string
		registry, repository string
		tag, digest          string
		name                 string
		wantErr              string
	}{
		{in: "nginx", registry: "index.docker.io", repository: "library/nginx", tag: "latest", name: "index.docker.io/library/nginx:latest"},
		{in: "nginx:1.25", registry: "index.docker.io", repository: "library/nginx", tag: "1.25", name: "index.docker.io/library/nginx:1.25"},
		{in: "docker.io/nginx:1.25", registry: "index.docker.io", repository: "library/nginx", tag: "1.25", name: "index.docker.io/library/nginx:1.25"},
		{in: "index.docker.io/library/nginx", registry: "index.docker.io", repository: "library/nginx", tag: "latest", name: "index.docker.io/library/nginx:latest"},
		{in: "bitnami/redis:7", registry: "index.docker.io", repository: "bitnami/redis", tag: "7", name: "index.docker.io/bitnami/redis:7"},
		{in: "ghcr.io/kyverno/test-busybox:1.35", registry: "ghcr.io", repository: "kyverno/test-busybox", tag: "1.35", name: "ghcr.io/kyverno/test-busybox:1.35"},
		{in: "ghcr.io/app", registry: "ghcr.io", repository: "app", tag: "latest", name: "ghcr.io/app:latest"},
		{in: "localhost:5000/app", registry: "localhost:5000", repository: "app", tag: "latest", name: "localhost:5000/app:latest"},
		{in: "localhost/app:v1", registry: "localhost", repository: "app", tag: "v1", name: "localhost/app:v1"},
		{in: "registry.local:5000/team/app:V1.0-rc_1", registry: "registry.local:5000", repository: "team/app", tag: "V1.0-rc_1", name: "registry.local:5000/team/app:V1.0-rc_1"},
		{in: "[::1]:5000/app", registry: "[::1]:5000", repository: "app", tag: "latest", name: "[::1]:5000/app:latest"},
		{in: "gcr.io/a/b/c/d:x", registry: "gcr.io", repository: "a/b/c/d", tag: "x", name: "gcr.io/a/b/c/d:x"},
		{in: "ghcr.io/a/b@" + sha, registry: "ghcr.io", repository: "a/b", digest: sha, name: "ghcr.io/a/b@" + sha},
		{in: "nginx:1.25@" + sha, registry: "index.docker.io", repository: "library/nginx", digest: sha, name: "index.docker.io/library/nginx@" + sha},
		{in: "my_reg.io/app", registry: "my_reg.io", repository: "app", tag: "latest", name: "my_reg.io/app:latest"},
		{in: "a", registry: "index.docker.io", repository: "library/a", tag: "latest", name: "index.docker.io/library/a:latest"},
		{in: "Nginx", wantErr: "could not parse reference: Nginx"},
		{in: "ghcr.io/Org/app", wantErr: "could not parse reference"},
		{in: "MyReg/app:v1", wantErr: "could not parse reference"},
		{in: "nginx:", wantErr: "could not parse reference"},
		{in: "nginx@sha256:abc", wantErr: "could not parse reference"},
		{in: "nginx@" + sha[:len(sha)-1], wantErr: "could not parse reference"},
		{in: "nginx@" + sha512, wantErr: "could not parse reference"},
		{in: "nginx@" + strings.ToUpper(sha), wantErr: "could not parse reference"},
		{in: "a@b@c", wantErr: "could not parse reference"},
		{in: "nginx ", wantErr: "could not parse reference"},
		{in: " nginx", wantErr: "could not parse reference"},
		{in: "ngi nx", wantErr: "could not parse reference"},
		{in: "", wantErr: "could not parse reference"},
		{in: "nginx:" + strings.Repeat("x", 129), wantErr: "could not parse reference"},
		// go-containerregistry checks the length of a digest reference's
		// repository after adding "library/".
		{in: strings.Repeat("b", 250) + ":1", registry: "index.docker.io", repository: "library/" + strings.Repeat("b", 250), tag: "1",
			name: "index.docker.io/library/" + strings.Repeat("b", 250) + ":1"},
		{in: strings.Repeat("b", 250) + "@" + sha, wantErr: "could not parse reference"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tc.in)
			_, ggcrErr := name.ParseReference(tc.in, name.WeakValidation)
			if (err == nil) != (ggcrErr == nil) {
				t.Fatalf("Parse(%q) error %v, name.ParseReference error %v", tc.in, err, ggcrErr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %+v, %v; want error %q", tc.in, r, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Registry() != tc.registry || r.Repository() != tc.repository || r.Tag() != tc.tag || r.Digest() != tc.digest || r.Name() != tc.name {
				t.Fatalf("Parse(%q) = registry %q repository %q tag %q digest %q name %q", tc.in, r.Registry(), r.Repository(), r.Tag(), r.Digest(), r.Name())
			}
			if want := tc.tag + tc.digest; r.Identifier() != want {
				t.Errorf("Identifier() = %q, want %q", r.Identifier(), want)
			}
			if r.String() != tc.in {
				t.Errorf("String() = %q", r.String())
			}
			assertGGCR(t, r)
		})
	}
}

// assertGGCR checks r's go-containerregistry view against name.ParseReference.
func assertGGCR(t *testing.T, r Ref) {
	t.Helper()
	ref, err := name.ParseReference(r.String(), name.WeakValidation)
	if err != nil {
		t.Fatalf("name.ParseReference(%q): %v", r.String(), err)
	}
	if r.Name() != ref.Name() || r.Registry() != ref.Context().RegistryStr() ||
		r.Repository() != ref.Context().RepositoryStr() || r.Identifier() != ref.Identifier() {
		t.Fatalf("Parse(%q): name %q registry %q repository %q identifier %q; go-containerregistry: %q %q %q %q",
			r, r.Name(), r.Registry(), r.Repository(), r.Identifier(),
			ref.Name(), ref.Context().RegistryStr(), ref.Context().RepositoryStr(), ref.Identifier())
	}
}

// TestKyverno checks Kyverno's view (the `images` variable and
// image_normalize) of every form, including the cases where its grammar
// differs from go-containerregistry's.
func TestKyverno(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Info
		ggcr    bool // go-containerregistry accepts it too
		wantErr string
	}{
		{"bare name", "nginx", Info{Registry: "docker.io", Path: "nginx", Name: "nginx", Tag: "latest",
			Reference: "docker.io/library/nginx:latest", ReferenceWithTag: "docker.io/nginx:latest"}, true, ""},
		{"name and tag", "nginx:1.25", Info{Registry: "docker.io", Path: "nginx", Name: "nginx", Tag: "1.25",
			Reference: "docker.io/library/nginx:1.25", ReferenceWithTag: "docker.io/nginx:1.25"}, true, ""},
		{"docker hub org", "bitnami/redis:7", Info{Registry: "docker.io", Path: "bitnami/redis", Name: "redis", Tag: "7",
			Reference: "docker.io/bitnami/redis:7", ReferenceWithTag: "docker.io/bitnami/redis:7"}, true, ""},
		{"docker hub written", "docker.io/nginx", Info{Registry: "docker.io", Path: "nginx", Name: "nginx", Tag: "latest",
			Reference: "docker.io/library/nginx:latest", ReferenceWithTag: "docker.io/nginx:latest"}, true, ""},
		{"localhost with port", "localhost:5000/a/b:tag", Info{Registry: "localhost:5000", Path: "a/b", Name: "b", Tag: "tag",
			Reference: "localhost:5000/a/b:tag", ReferenceWithTag: "localhost:5000/a/b:tag"}, true, ""},
		{"registry port no tag", "registry.local:5000/team/app", Info{Registry: "registry.local:5000", Path: "team/app", Name: "app", Tag: "latest",
			Reference: "registry.local:5000/team/app:latest", ReferenceWithTag: "registry.local:5000/team/app:latest"}, true, ""},
		{"ipv6 registry", "[::1]:5000/app:1", Info{Registry: "[::1]:5000", Path: "app", Name: "app", Tag: "1",
			Reference: "[::1]:5000/library/app:1", ReferenceWithTag: "[::1]:5000/app:1"}, true, ""},
		{"digest only", "ghcr.io/org/app@" + sha, Info{Registry: "ghcr.io", Path: "org/app", Name: "app", Digest: sha,
			Reference: "ghcr.io/org/app@" + sha, ReferenceWithTag: "ghcr.io/org/app:"}, true, ""},
		{"tag and digest", "nginx:1.0@" + sha, Info{Registry: "docker.io", Path: "nginx", Name: "nginx", Tag: "1.0", Digest: sha,
			Reference: "docker.io/library/nginx@" + sha, ReferenceWithTag: "docker.io/nginx:1.0"}, true, ""},
		{"single segment on another registry: path as written", "localhost/foo", Info{Registry: "localhost", Path: "foo", Name: "foo", Tag: "latest",
			Reference: "localhost/library/foo:latest", ReferenceWithTag: "localhost/foo:latest"}, true, ""},
		{"deep path", "gcr.io/a/b/c/d:x", Info{Registry: "gcr.io", Path: "a/b/c/d", Name: "d", Tag: "x",
			Reference: "gcr.io/a/b/c/d:x", ReferenceWithTag: "gcr.io/a/b/c/d:x"}, true, ""},
		{"single character", "a", Info{Registry: "docker.io", Path: "a", Name: "a", Tag: "latest",
			Reference: "docker.io/library/a:latest", ReferenceWithTag: "docker.io/a:latest"}, true, ""},
		// Accepted by Kyverno, refused by go-containerregistry.
		{"underscore registry", "my_reg.io/foo", Info{Registry: "my_reg.io", Path: "foo", Name: "foo", Tag: "latest",
			Reference: "my_reg.io/foo:latest", ReferenceWithTag: "my_reg.io/foo:latest"}, true, ""},
		{"upper case registry without dot", "MyReg/foo:v1", Info{Registry: "MyReg", Path: "foo", Name: "foo", Tag: "v1",
			Reference: "MyReg/library/foo:v1", ReferenceWithTag: "MyReg/foo:v1"}, false, ""},
		{"sha512 digest", "ghcr.io/org/app@" + sha512, Info{Registry: "ghcr.io", Path: "org/app", Name: "app", Digest: sha512,
			Reference: "ghcr.io/org/app@" + sha512, ReferenceWithTag: "ghcr.io/org/app:"}, false, ""},
		// Refused by both.
		{"upper case path", "Nginx", Info{}, false, "must be lowercase"},
		{"upper case path with registry", "docker.io/Nginx", Info{}, false, "bad image: docker.io/Nginx, defaultRegistry: docker.io"},
		{"empty", "", Info{}, false, "empty repository path"},
		{"empty tag", "nginx:", Info{}, false, "invalid tag"},
		{"truncated digest", "nginx@" + sha[:len(sha)-1], Info{}, false, "invalid checksum digest length"},
		{"short digest", "nginx@sha256:abc", Info{}, false, "invalid digest"},
		{"unknown digest algorithm", "nginx@md5:0123456789abcdef0123456789abcdef", Info{}, false, "unsupported digest algorithm"},
		{"upper case digest", "nginx@" + sha[:7] + strings.ToUpper(sha[7:]), Info{}, false, "invalid checksum digest format"},
		{"empty digest", "nginx@", Info{}, false, "invalid digest"},
		{"two digests", "nginx@" + sha + "@" + sha, Info{}, false, "invalid digest"},
		{"trailing space", "nginx ", Info{}, false, "bad path component"},
		{"trailing space after tag", "nginx:1 ", Info{}, false, "invalid tag"},
		{"space", "ngi nx", Info{}, false, "bad path component"},
		{"double colon", "nginx::1", Info{}, false, "invalid reference format"},
		{"too long", "a/" + strings.Repeat("b", 260), Info{}, false, "more than 255"},
		// Accepted by go-containerregistry, refused by Kyverno.
		{"too long with registry", "ghcr.io/" + strings.Repeat("b", 250), Info{}, true, "more than 255"},
		{"tag starting with dash", "nginx:-x", Info{}, true, "invalid tag"},
		{"tag starting with dot", "nginx:.x", Info{}, true, "invalid tag"},
		{"doubled dots", "ghcr.io/a..b", Info{}, true, "bad path component"},
		{"empty path component", "ghcr.io/a//b", Info{}, true, "bad path component"},
		{"trailing dash", "ghcr.io/a-", Info{}, true, "bad path component"},
		{"registry component ending in dash", "reg-.io/app", Info{}, true, "bad path component"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tc.in, Kyverno(""))
			if _, ggcrErr := Parse(tc.in); (ggcrErr == nil) != tc.ggcr {
				t.Errorf("go-containerregistry error %v, want accepted=%v", ggcrErr, tc.ggcr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q, Kyverno) = %+v, %v; want error %q", tc.in, r.Info(), err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "bad image: ") {
					t.Errorf("error %q does not read like Kyverno's", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Info(); got != tc.want {
				t.Fatalf("Parse(%q, Kyverno).Info() =\n%+v\nwant\n%+v", tc.in, got, tc.want)
			}
			if r.String() != tc.in {
				t.Errorf("String() = %q", r.String())
			}
			if tc.ggcr {
				// The go-containerregistry view of a Kyverno parse agrees
				// with go-containerregistry.
				assertGGCR(t, r)
			}
		})
	}
}

func TestKyvernoDefaultRegistry(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"nginx", "registry.example.com/library/nginx:latest"},
		{"org/app:1", "registry.example.com/org/app:1"},
		{"ghcr.io/org/app:1", "ghcr.io/org/app:1"},
		{"localhost/app", "localhost/library/app:latest"},
	}
	for _, tc := range tests {
		r, err := Parse(tc.in, Kyverno("registry.example.com"))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := r.Info().Reference; got != tc.want {
			t.Errorf("Parse(%q).Info().Reference = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A default registry that is not a domain name is read as a path
	// component, then shown as the registry, as Kyverno does.
	r, err := Parse("nginx", Kyverno("not_a_domain"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Info(); got.Registry != "not_a_domain" || got.Path != "nginx" || got.Reference != "not_a_domain/nginx:latest" {
		t.Errorf("Info() = %+v", got)
	}
}

// TestInfoWithoutKyverno checks that Info of a go-containerregistry parse
// shows Kyverno's conventions with docker.io as the default registry.
func TestInfoWithoutKyverno(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"nginx", "nginx:1.0@" + sha, "ghcr.io/org/app@" + sha, "localhost:5000/a/b:tag", "localhost/foo"} {
		r, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		k, err := Parse(in, Kyverno(""))
		if err != nil {
			t.Fatal(err)
		}
		if r.Info() != k.Info() {
			t.Errorf("%q: Info() = %+v, with the Kyverno option %+v", in, r.Info(), k.Info())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "nginx:1", "localhost:5000/a/b:tag", "a@" + sha, "a:1@" + sha, "my_reg.io/x",
		"[::1]:5000/x", "", ":", "@", "/", "a//b", "MyReg/x", "UPPER/Case", "x@" + sha512, "docker.io/library/nginx:latest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		_, ggcrErr := name.ParseReference(s, name.WeakValidation)
		if (err == nil) != (ggcrErr == nil) {
			t.Fatalf("Parse(%q) error %v, name.ParseReference error %v", s, err, ggcrErr)
		}
		if err == nil {
			assertGGCR(t, r)
		}
		k, err := Parse(s, Kyverno(""))
		if err != nil {
			return
		}
		in := k.Info()
		for field, v := range map[string]string{"name": in.Name, "path": in.Path, "reference": in.Reference, "referenceWithTag": in.ReferenceWithTag} {
			if v == "" {
				t.Fatalf("Parse(%q, Kyverno) has an empty %s: %+v", s, field, in)
			}
		}
		// image_normalize is idempotent.
		again, err := Parse(in.Reference, Kyverno(""))
		if err != nil || again.Info().Reference != in.Reference {
			t.Fatalf("normalize(%q) = %q, but normalize(%q) = %+v, %v", s, in.Reference, in.Reference, again.Info(), err)
		}
	})
}
