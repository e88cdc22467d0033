package kinds

import "testing"

func TestLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, apiVersion, kind, resource string
		namespaced                       bool
	}{
		{"pod", "v1", "Pod", "pods", true},
		{"deployment", "apps/v1", "Deployment", "deployments", true},
		{"ingress", "networking.k8s.io/v1", "Ingress", "ingresses", true},
		{"network policy", "networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
		{"namespace", "v1", "Namespace", "namespaces", false},
		{"cluster role", "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false},
		{"endpoints", "v1", "Endpoints", "endpoints", true},
		{"crd kind", "example.com/v1", "Widget", "widgets", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Lookup(tc.apiVersion, tc.kind)
			if got.Resource != tc.resource || got.Namespaced != tc.namespaced {
				t.Fatalf("Lookup(%s, %s) = %+v, want %s namespaced=%v", tc.apiVersion, tc.kind, got, tc.resource, tc.namespaced)
			}
		})
	}
}

func TestGroupVersion(t *testing.T) {
	t.Parallel()
	if g, v := GroupVersion("apps/v1"); g != "apps" || v != "v1" {
		t.Fatalf("apps/v1 -> %q %q", g, v)
	}
	if g, v := GroupVersion("v1"); g != "" || v != "v1" {
		t.Fatalf("v1 -> %q %q", g, v)
	}
}
