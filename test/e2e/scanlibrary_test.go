package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/testing/corpus"
)

// TestScanClusterLibrary runs `portcullis scan --cluster --library`
// against a real API server with the shared Kubescape library: the
// controls selected find the cluster-admin binding's subject (C-0185,
// whose rule matches RBAC kinds in any group and version) and the
// privileged Pod (C-0057), and --exclude-namespaces leaves a namespace
// out.
func TestScanClusterLibrary(t *testing.T) {
	lib := corpus.Kubescape(t)
	env := Start(t, Options{})
	ctx := context.Background()
	for _, o := range scanClusterObjects() {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	args := []string{"scan", "--cluster", "--kubeconfig", adminKubeconfig(t, env), "--library", lib,
		"--control", "C-0185,C-0057", "--exclude-namespaces", "ignored,kube-system", "-o", "json"}
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
	var out scanOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("exit %d, output is not JSON: %v\n%s\nstderr: %s", code, err, stdout.String(), stderr.String())
	}
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want 1 (findings); stderr: %s", code, stderr.String())
	}
	got := map[string]bool{}
	for _, r := range out.Results {
		if r.Status == "fail" {
			got[r.Control+" "+r.Resource.Kind+"/"+r.Resource.Namespace+"/"+r.Resource.Name] = true
		}
	}
	for _, want := range []string{"C-0185 User//alice", "C-0057 Pod/apps/priv"} {
		if !got[want] {
			t.Errorf("no failure %s in %v", want, got)
		}
	}
	for k := range got {
		if strings.Contains(k, "/ignored/") {
			t.Errorf("failure in an excluded namespace: %s", k)
		}
	}
	if len(out.Summary.NotScanned) != 0 {
		t.Errorf("not scanned: %+v", out.Summary.NotScanned)
	}
}
