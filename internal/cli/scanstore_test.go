//go:build !offline

package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
)

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: NAME
  namespace: apps
spec:
  containers:
  - name: app
    image: gcr.io/app:1
    securityContext:
      privileged: true
`

// TestScanStore: `scan --store` records each scan in the findings store;
// scanning the same path again records what changed (a manifest gone is
// a deleted resource with its failures resolved).
func TestScanStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.Mkdir(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(manifests, name+".yaml"), []byte(strings.ReplaceAll(privilegedPod, "NAME", name)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "findings.db")
	if out := runCLI(t, "", "scan", manifests, "--set", "pss-baseline", "--store", db); out.code != 1 {
		t.Fatalf("first scan: exit %d, want 1 (findings)\n%s%s", out.code, out.stdout, out.stderr)
	}
	if err := os.Remove(filepath.Join(manifests, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if out := runCLI(t, "", "scan", manifests, "--set", "pss-baseline", "--store", "sqlite://"+db); out.code != 1 {
		t.Fatalf("second scan: exit %d, want 1\n%s%s", out.code, out.stdout, out.stderr)
	}

	st, err := store.Open(ctx, store.Config{URL: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	source := "scan:" + manifests
	scans, err := st.Scans(ctx, store.ScanQuery{Clusters: []string{source}})
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 || scans[0].Resources != 1 || scans[1].Resources != 2 || scans[0].Fail == 0 || scans[0].Source != manifests {
		t.Fatalf("scans %+v, want two (2 resources, then 1) with failures", scans)
	}
	vs, err := st.Violations(ctx, store.ViolationQuery{Filter: store.Filter{Clusters: []string{source}}})
	if err != nil || len(vs) == 0 {
		t.Fatalf("violations %v %v", vs, err)
	}
	for _, v := range vs {
		if v.Resource.Name != "a" || v.Policy == "" || v.Message == "" {
			t.Errorf("violation %+v: want only pod a's, with policy and message", v)
		}
	}
	h, err := st.History(ctx, store.HistoryQuery{Cluster: source, Namespace: "apps", Kind: "Pod", Name: "b"})
	if err != nil || h == nil || h.Deleted == nil {
		t.Fatalf("history of b: %+v %v, want deleted", h, err)
	}
	var resolved int
	for _, tr := range h.Transitions {
		if tr.Type == store.TypeResolution {
			resolved++
		}
	}
	if resolved == 0 || resolved*2 != len(h.Transitions) {
		t.Errorf("b's transitions %+v: want each violation resolved", h.Transitions)
	}
	if imgs, _ := st.Images(ctx, store.ImageQuery{}); len(imgs) != 1 || imgs[0].Ref != "gcr.io/app:1" {
		t.Errorf("images %+v", imgs)
	}
}

func TestScanStoreBadURL(t *testing.T) {
	out := runCLI(t, "", "scan", "-", "--store", "mysql://x")
	if out.code != 2 || !strings.Contains(out.stderr, "--store") {
		t.Fatalf("exit %d, stderr %q: want 2 naming --store", out.code, out.stderr)
	}
}
