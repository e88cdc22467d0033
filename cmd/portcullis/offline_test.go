package main

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are the import path prefixes the offline build must not link:
// image verification (cosign, sigstore, rekor, TUF), the attestation
// policy languages (OPA, CUE), the Kubescape library (OPA) and the
// findings store's database drivers. Each is in the full build.
var heavy = []string{
	"github.com/sigstore/",
	"github.com/open-policy-agent/",
	"cuelang.org/",
	"github.com/jackc/",
	"modernc.org/",
	"github.com/portcullis/portcullis/internal/imageverify",
	"github.com/portcullis/portcullis/internal/attest",
	"github.com/portcullis/portcullis/internal/kubescape",
	"github.com/portcullis/portcullis/internal/store",
	"github.com/portcullis/portcullis/internal/serve",
}

// deps lists the packages `go list -deps` gives for pkgs with args.
func deps(t *testing.T, args ...string) map[string]bool {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go list needs the go command: %v", err)
	}
	out, err := exec.Command(goBin, append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	set := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		set[p] = true
	}
	return set
}

// heavyIn returns the packages of set under a heavy prefix, one example
// per prefix.
func heavyIn(set map[string]bool) map[string]string {
	found := map[string]string{}
	for p := range set {
		for _, h := range heavy {
			if strings.HasPrefix(p, h) {
				found[h] = p
			}
		}
	}
	return found
}

// The README's first command builds this package with -tags offline: it
// must not link what the offline commands do not use, or the first run
// compiles the whole dependency graph again. The packages under it
// (engine, policy, imagepolicy) must not import them in any build.
func TestOfflineBuildLinksNoImageVerificationOrAttestationLanguages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module (a few seconds)")
	}
	t.Parallel()
	offline := deps(t, "-tags", "offline", ".")
	if !offline["github.com/portcullis/portcullis/internal/cli"] || !offline["github.com/portcullis/portcullis/internal/engine"] {
		t.Fatalf("go list -tags offline gave no internal/cli or internal/engine: %d packages", len(offline))
	}
	for h, p := range heavyIn(offline) {
		t.Errorf("the offline build links %s (%s)", h, p)
	}
	lower := deps(t, "../../internal/engine", "../../internal/policy", "../../internal/imagepolicy",
		"../../internal/kyvernotest", "../../internal/source/files", "../../internal/sink/report")
	for h, p := range heavyIn(lower) {
		t.Errorf("engine, policy, imagepolicy, kyvernotest, source/files or sink/report import %s (%s)", h, p)
	}
	full := deps(t, ".")
	if got := heavyIn(full); len(got) != len(heavy) {
		t.Errorf("the full build links %d of the %d heavy prefixes (%v): the list is out of date", len(got), len(heavy), got)
	}
	if len(offline)*10 > len(full)*6 {
		t.Errorf("the offline build has %d packages, the full one %d: want at most 60%%", len(offline), len(full))
	}
}
