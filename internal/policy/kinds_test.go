package policy

import (
	"strings"
	"testing"
)

func TestParseKind(t *testing.T) {
	t.Parallel()
	type res struct{ apiVersion, kind, sub string }
	cases := []struct {
		name     string
		in       string
		wantErr  string
		match    []res
		nonMatch []res
	}{
		{name: "kind only", in: "Pod", match: []res{{"v1", "Pod", ""}}, nonMatch: []res{{"v1", "Pod", "status"}, {"v1", "Service", ""}}},
		{name: "version kind", in: "v1/Pod", match: []res{{"v1", "Pod", ""}}, nonMatch: []res{{"v2", "Pod", ""}}},
		{name: "group version kind", in: "apps/v1/Deployment", match: []res{{"apps/v1", "Deployment", ""}}, nonMatch: []res{{"extensions/v1beta1", "Deployment", ""}}},
		{name: "wildcard version", in: "apps/*/Deployment", match: []res{{"apps/v1", "Deployment", ""}, {"apps/v1beta2", "Deployment", ""}}},
		{name: "star", in: "*", match: []res{{"v1", "Pod", ""}, {"apps/v1", "Deployment", ""}}},
		{name: "kind wildcard", in: "Cluster*", match: []res{{"rbac.authorization.k8s.io/v1", "ClusterRole", ""}}, nonMatch: []res{{"v1", "Pod", ""}}},
		{name: "subresource", in: "Pod/exec", match: []res{{"v1", "Pod", "exec"}}, nonMatch: []res{{"v1", "Pod", ""}}},
		{name: "gvk subresource", in: "apps/v1/Deployment/scale", match: []res{{"apps/v1", "Deployment", "scale"}}},
		{name: "empty", in: "", wantErr: "empty kind"},
		{name: "empty part", in: "apps//Deployment", wantErr: "empty part"},
		{name: "too many parts", in: "a/b/C/d/e", wantErr: "too many parts"},
		{name: "lower case kind", in: "pod", wantErr: "upper-case"},
		{name: "space", in: "Pod ", wantErr: "white space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKind(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKind(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.match {
				if !k.Matches(r.apiVersion, r.kind, r.sub) {
					t.Errorf("%q should match %v", tc.in, r)
				}
			}
			for _, r := range tc.nonMatch {
				if k.Matches(r.apiVersion, r.kind, r.sub) {
					t.Errorf("%q should not match %v", tc.in, r)
				}
			}
		})
	}
}
