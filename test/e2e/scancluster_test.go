package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// scanClusterObjects are what TestScanCluster creates: a cluster-admin
// binding of a user, a ClusterRole with wildcards, a privileged Pod, and
// compliant objects next to them.
func scanClusterObjects() []client.Object {
	no := false
	yes := true
	rbacGroup := rbacv1.GroupName
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ignored"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ignored"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ops-admin"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacGroup, Name: "alice"}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "all-verbs"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv", Namespace: "apps"}, Spec: corev1.PodSpec{
			ServiceAccountName: "web", AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "c", Image: "ghcr.io/org/app:1.0",
				SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv", Namespace: "ignored"}, Spec: corev1.PodSpec{
			ServiceAccountName: "web", AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "c", Image: "ghcr.io/org/app:1.0",
				SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}},
	}
}

// scanOutput is the part of `scan -o json` the test reads.
type scanOutput struct {
	Results []struct {
		Resource struct {
			Kind, Namespace, Name string
		} `json:"resource"`
		Status  string `json:"status"`
		Control string `json:"control"`
	} `json:"results"`
	Summary struct {
		Resources  int `json:"resources"`
		NotScanned []struct {
			What, Reason string
		} `json:"notScanned"`
		Frameworks []struct {
			Name  string  `json:"name"`
			Score float64 `json:"complianceScore"`
		} `json:"frameworks"`
	} `json:"summary"`
}

// kubeconfigOf writes the kubeconfig of an envtest user.
func kubeconfigOf(t *testing.T, env *Env, u envtest.User) string {
	t.Helper()
	au, err := env.Environment.AddUser(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := au.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), u.Name+".kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScanCluster runs `portcullis scan --cluster` against a real API
// server: the built-in NSA and CIS frameworks find the cluster-admin
// binding, the wildcard role and the privileged Pod; --exclude-namespaces
// leaves a namespace out; credentials that may not list ClusterRoles get
// them reported as not scanned (exit 2, or 1 with --allow-partial).
func TestScanCluster(t *testing.T) {
	env := Start(t, Options{})
	ctx := context.Background()
	for _, o := range scanClusterObjects() {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	run := func(t *testing.T, kubeconfig string, extra ...string) (int, scanOutput, string) {
		t.Helper()
		args := append([]string{"scan", "--cluster", "--kubeconfig", kubeconfig, "--framework", "nsa,cis",
			"--exclude-namespaces", "ignored,kube-system", "-o", "json"}, extra...)
		var stdout, stderr bytes.Buffer
		code := cli.Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
		var out scanOutput
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("exit %d, output is not JSON: %v\n%s\nstderr: %s", code, err, stdout.String(), stderr.String())
		}
		return code, out, stderr.String()
	}
	failed := func(out scanOutput) map[string]bool {
		m := map[string]bool{}
		for _, r := range out.Results {
			if r.Status == "fail" {
				m[r.Control+" "+r.Resource.Kind+"/"+r.Resource.Namespace+"/"+r.Resource.Name] = true
			}
		}
		return m
	}

	t.Run("admin", func(t *testing.T) {
		code, out, stderr := run(t, adminKubeconfig(t, env))
		if code != cli.ExitFindings {
			t.Fatalf("exit %d, want 1 (findings); stderr: %s", code, stderr)
		}
		got := failed(out)
		for _, want := range []string{
			"PC-0001 ClusterRoleBinding//ops-admin",
			"PC-0002 ClusterRole//all-verbs",
			"PSS-B-03 Pod/apps/priv",
			"PC-0009 Namespace//apps",
		} {
			if !got[want] {
				t.Errorf("no failure %s in %v", want, got)
			}
		}
		for k := range got {
			if strings.Contains(k, "/ignored/") || strings.HasSuffix(k, "Namespace//ignored") || strings.Contains(k, "ClusterRole//reader") ||
				strings.Contains(k, "ClusterRoleBinding//cluster-admin") {
				t.Errorf("unexpected failure %s", k)
			}
		}
		if len(out.Summary.NotScanned) != 0 || len(out.Summary.Frameworks) != 2 {
			t.Errorf("summary %+v", out.Summary)
		}
	})

	t.Run("forbidden kind", func(t *testing.T) {
		// A user that may list everything the scan needs but ClusterRoles.
		rbacGroup := rbacv1.GroupName
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "scan-but-clusterroles"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"", "apps", "batch"}, Resources: []string{"*"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{rbacGroup}, Resources: []string{"roles", "rolebindings", "clusterrolebindings"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list"}},
			}}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scanner"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacGroup, Name: "scanner"}}}
		for _, o := range []client.Object{role, binding} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		kc := kubeconfigOf(t, env, envtest.User{Name: "scanner"})
		code, out, stderr := run(t, kc)
		if code != cli.ExitInvalid {
			t.Fatalf("exit %d, want 2 (kinds not scanned); stderr: %s", code, stderr)
		}
		if len(out.Summary.NotScanned) != 1 || !strings.Contains(out.Summary.NotScanned[0].What, "ClusterRole") ||
			!strings.Contains(out.Summary.NotScanned[0].Reason, "forbidden") {
			t.Errorf("not scanned %+v", out.Summary.NotScanned)
		}
		if !strings.Contains(stderr, "not scanned: rbac.authorization.k8s.io/v1 ClusterRole: forbidden") {
			t.Errorf("stderr does not name the kind: %s", stderr)
		}
		got := failed(out)
		if !got["PC-0001 ClusterRoleBinding//ops-admin"] || !got["PSS-B-03 Pod/apps/priv"] {
			t.Errorf("the other kinds were not scanned: %v", got)
		}
		code, _, stderr = run(t, kc, "--allow-partial")
		if code != cli.ExitFindings {
			t.Fatalf("--allow-partial: exit %d, want 1; stderr: %s", code, stderr)
		}
	})
}
