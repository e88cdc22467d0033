package variables

import (
	"strings"
	"testing"
)

const sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParseImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		image   string
		want    string // JSON
		wantErr string
	}{
		{"bare name", "nginx",
			`{"name":"nginx","path":"nginx","reference":"docker.io/library/nginx:latest","referenceWithTag":"docker.io/nginx:latest","registry":"docker.io","tag":"latest"}`, ""},
		{"name and tag", "nginx:1.25",
			`{"name":"nginx","path":"nginx","reference":"docker.io/library/nginx:1.25","referenceWithTag":"docker.io/nginx:1.25","registry":"docker.io","tag":"1.25"}`, ""},
		{"docker hub org", "bitnami/redis:7",
			`{"name":"redis","path":"bitnami/redis","reference":"docker.io/bitnami/redis:7","referenceWithTag":"docker.io/bitnami/redis:7","registry":"docker.io","tag":"7"}`, ""},
		{"localhost with port", "localhost:5000/a/b:tag",
			`{"name":"b","path":"a/b","reference":"localhost:5000/a/b:tag","referenceWithTag":"localhost:5000/a/b:tag","registry":"localhost:5000","tag":"tag"}`, ""},
		{"registry port no tag", "registry.local:5000/team/app",
			`{"name":"app","path":"team/app","reference":"registry.local:5000/team/app:latest","referenceWithTag":"registry.local:5000/team/app:latest","registry":"registry.local:5000","tag":"latest"}`, ""},
		{"digest only", "ghcr.io/org/app@" + sha,
			`{"digest":"` + sha + `","name":"app","path":"org/app","reference":"ghcr.io/org/app@` + sha + `","referenceWithTag":"ghcr.io/org/app:","registry":"ghcr.io"}`, ""},
		{"tag and digest", "nginx:1.0@" + sha,
			`{"digest":"` + sha + `","name":"nginx","path":"nginx","reference":"docker.io/library/nginx@` + sha + `","referenceWithTag":"docker.io/nginx:1.0","registry":"docker.io","tag":"1.0"}`, ""},
		{"localhost single segment: path as written, reference with library/", "localhost/foo",
			`{"name":"foo","path":"foo","reference":"localhost/library/foo:latest","referenceWithTag":"localhost/foo:latest","registry":"localhost","tag":"latest"}`, ""},
		{"underscore registry", "my_reg.io/foo",
			`{"name":"foo","path":"foo","reference":"my_reg.io/foo:latest","referenceWithTag":"my_reg.io/foo:latest","registry":"my_reg.io","tag":"latest"}`, ""},
		{"upper case registry", "MyReg/foo:v1",
			`{"name":"foo","path":"foo","reference":"MyReg/library/foo:v1","referenceWithTag":"MyReg/foo:v1","registry":"MyReg","tag":"v1"}`, ""},
		{"deep path", "gcr.io/a/b/c/d:x",
			`{"name":"d","path":"a/b/c/d","reference":"gcr.io/a/b/c/d:x","referenceWithTag":"gcr.io/a/b/c/d:x","registry":"gcr.io","tag":"x"}`, ""},
		{"upper case path", "Nginx", "", "must be lowercase"},
		{"empty", "", "", "empty repository path"},
		{"bad tag", "nginx:-x", "", "invalid tag"},
		{"bad digest", "nginx@sha256:abc", "", "invalid digest"},
		{"unknown digest algorithm", "nginx@md5:0123456789abcdef0123456789abcdef", "", "unsupported digest algorithm"},
		{"upper case digest", "nginx@" + sha[:7] + strings.ToUpper(sha[7:]), "", "invalid checksum digest format"},
		{"space", "ngi nx", "", "bad path component"},
		{"too long", "a/" + strings.Repeat("b", 260), "", "more than 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseImage(tt.image)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseImage(%q) = %v, %v; want error %q", tt.image, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseImage(%q): %v", tt.image, err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("ParseImage(%q) =\n%s\nwant\n%s", tt.image, g, tt.want)
			}
		})
	}
}

func TestImageInfos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resource string
		want     string // JSON; "null" for none
		wantErr  string
	}{
		{"pod", podJSON,
			`{"containers":{"c1":{"jsonPointer":"/spec/containers/0/image","name":"nginx","path":"nginx","reference":"docker.io/library/nginx:1.25","referenceWithTag":"docker.io/nginx:1.25","registry":"docker.io","tag":"1.25"},` +
				`"side":{"jsonPointer":"/spec/containers/1/image","name":"b","path":"a/b","reference":"localhost:5000/a/b:tag","referenceWithTag":"localhost:5000/a/b:tag","registry":"localhost:5000","tag":"tag"}},` +
				`"initContainers":{"init":{"jsonPointer":"/spec/initContainers/0/image","name":"busybox","path":"busybox","reference":"docker.io/library/busybox:latest","referenceWithTag":"docker.io/busybox:latest","registry":"docker.io","tag":"latest"}}}`, ""},
		{"deployment", `{"kind": "Deployment", "spec": {"template": {"spec": {"ephemeralContainers": [{"name": "dbg", "image": "ghcr.io/x/dbg@` + sha + `"}]}}}}`,
			`{"ephemeralContainers":{"dbg":{"digest":"` + sha + `","jsonPointer":"/spec/template/spec/ephemeralContainers/0/image","name":"dbg","path":"x/dbg","reference":"ghcr.io/x/dbg@` + sha + `","referenceWithTag":"ghcr.io/x/dbg:","registry":"ghcr.io"}}}`, ""},
		{"cronjob", `{"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "image": "alpine:3"}]}}}}}}`,
			`{"containers":{"job":{"jsonPointer":"/spec/jobTemplate/spec/template/spec/containers/0/image","name":"alpine","path":"alpine","reference":"docker.io/library/alpine:3","referenceWithTag":"docker.io/alpine:3","registry":"docker.io","tag":"3"}}}`, ""},
		{"unsupported kind", `{"kind": "Service", "spec": {"containers": [{"name": "x", "image": "nginx"}]}}`, `null`, ""},
		{"no containers", `{"kind": "Pod", "spec": {}}`, `null`, ""},
		{"missing image skipped", `{"kind": "Pod", "spec": {"containers": [{"name": "a"}, {"name": "b", "image": "  "}]}}`, `null`, ""},
		{"missing name", `{"kind": "Pod", "spec": {"containers": [{"image": "nginx"}]}}`, "", "invalid key"},
		{"bad image", `{"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "UPPER"}]}}`, "", "invalid image 'UPPER'"},
		{"spec not a map", `{"kind": "Pod", "spec": "x"}`, "", "invalid image config"},
		{"containers not a list", `{"kind": "Pod", "spec": {"containers": 3}}`, "", "invalid type"},
		{"container not a map", `{"kind": "Pod", "spec": {"containers": ["nginx"]}}`, "", "invalid image config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ImageInfos(mustMap(t, tt.resource))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ImageInfos: %v", err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("ImageInfos =\n%s\nwant\n%s", g, tt.want)
			}
		})
	}
}

func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "nginx:1", "localhost:5000/a/b:tag", "a@" + sha, "my_reg.io/x", "[::1]:5000/x", "", ":", "@", "/", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseImage(s)
		if err != nil {
			return
		}
		for _, k := range []string{"name", "path", "reference", "referenceWithTag"} {
			if v, _ := info[k].(string); v == "" {
				t.Fatalf("ParseImage(%q) has empty %s: %v", s, k, info)
			}
		}
	})
}

func TestImages(t *testing.T) {
	t.Parallel()
	resource := mustMap(t, `{"kind": "Deployment", "spec": {"template": {"spec": {
		"containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "ghcr.io/x/b@`+sha+`"}, {"name": "a", "image": "redis"}],
		"initContainers": [{"name": "a", "image": "busybox"}],
		"ephemeralContainers": {"10": {"name": "e10", "image": "e:10"}, "9": {"name": "e9", "image": "e:9"}}}}}}`)
	images, err := Images(resource)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range images {
		got = append(got, im.Group+" "+im.Container+" "+im.Pointer+" "+im.Info.Reference)
	}
	want := []string{
		"initContainers a /spec/template/spec/initContainers/0/image docker.io/library/busybox:latest",
		// A later container with the same name replaces an earlier one.
		"containers b /spec/template/spec/containers/1/image ghcr.io/x/b@" + sha,
		"containers a /spec/template/spec/containers/2/image docker.io/library/redis:latest",
		// Lists written as objects are read in key order.
		"ephemeralContainers e9 /spec/template/spec/ephemeralContainers/9/image docker.io/library/e:9",
		"ephemeralContainers e10 /spec/template/spec/ephemeralContainers/10/image docker.io/library/e:10",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Images =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An error in an earlier list is reported before a malformed later list.
	_, err = Images(mustMap(t, `{"kind": "Pod", "spec": {"initContainers": [{"image": "x"}], "containers": 3}}`))
	if err == nil || err.Error() != "invalid key" {
		t.Errorf("error = %v, want invalid key", err)
	}
}

// Kyverno's GetImageInfo takes path from the reference as written with
// the default registry added (reference.Path, no "library/"), so a policy
// rebuilding an image as "registry.io/{{path}}:{{tag}}" (the
// prepend-image-registry sample) gets registry.io/redis:latest.
func TestImagesPathAsKyvernoGetImageInfo(t *testing.T) {
	info, err := ParseImage("redis:latest")
	if err != nil {
		t.Fatal(err)
	}
	if info["path"] != "redis" || info["registry"] != "docker.io" || info["tag"] != "latest" {
		t.Fatalf("ParseImage(redis:latest) = %v, want path redis", info)
	}
	if info["reference"] != "docker.io/library/redis:latest" {
		t.Fatalf("reference = %v, want the normalized docker.io/library/redis:latest", info["reference"])
	}
}
