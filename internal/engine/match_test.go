package engine

import (
	"context"
	"testing"
)

// matchPolicy builds a one-rule ClusterPolicy whose rule "r" has the given
// match/exclude blocks (YAML indented as rule fields) and always passes
// (a deny that never holds, so that DELETE requests get a result too).
// Autogen is disabled so that only "r" can produce a result.
func matchPolicy(blocks string) string {
	return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: m
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  rules:
  - name: r
` + blocks + `    validate:
      deny:
        conditions:
          any:
          - {key: allowed, operator: Equals, value: denied}
`
}

const (
	podWeb = `apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: prod
  labels: {app: web-frontend, tier: frontend}
  annotations: {team: payments, "owner.example.com/oncall": alice}
spec:
  containers: [{name: c, image: nginx}]
`
	deployApps = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod}
spec: {replicas: 1}
`
	deployExt = `apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: api, namespace: prod}
spec: {replicas: 1}
`
	configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: kube-system}
data: {a: b}
`
	namespaceProd = `apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
`
	clusterRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: viewer}
rules: []
`
)

func TestMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		blocks   string
		resource string
		input    func(*Input)
		want     bool
	}{
		// kinds
		{name: "kind Pod", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n", resource: podWeb, want: true},
		{name: "kind Pod does not select a ConfigMap", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n", resource: configMap, want: false},
		{name: "kind v1/Pod", blocks: "    match: {any: [{resources: {kinds: [v1/Pod]}}]}\n", resource: podWeb, want: true},
		{name: "kind v2/Pod", blocks: "    match: {any: [{resources: {kinds: [v2/Pod]}}]}\n", resource: podWeb, want: false},
		{name: "kind apps/v1/Deployment", blocks: "    match: {any: [{resources: {kinds: [apps/v1/Deployment]}}]}\n", resource: deployApps, want: true},
		{name: "kind apps/v1/Deployment, other group", blocks: "    match: {any: [{resources: {kinds: [apps/v1/Deployment]}}]}\n", resource: deployExt, want: false},
		{name: "kind Deployment, any group", blocks: "    match: {any: [{resources: {kinds: [Deployment]}}]}\n", resource: deployExt, want: true},
		{name: "kind apps/*/Deployment", blocks: "    match: {any: [{resources: {kinds: [apps/*/Deployment]}}]}\n", resource: deployApps, want: true},
		{name: "kind star", blocks: "    match: {any: [{resources: {kinds: [\"*\"]}}]}\n", resource: configMap, want: true},
		{name: "kind wildcard", blocks: "    match: {any: [{resources: {kinds: [Cluster*]}}]}\n", resource: clusterRole, want: true},
		{name: "kind wildcard no match", blocks: "    match: {any: [{resources: {kinds: [Cluster*]}}]}\n", resource: podWeb, want: false},
		{name: "second kind", blocks: "    match: {any: [{resources: {kinds: [Secret, ConfigMap]}}]}\n", resource: configMap, want: true},

		// subresources
		{name: "Pod/status selects the status subresource", blocks: "    match: {any: [{resources: {kinds: [Pod/status]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "status" }, want: true},
		{name: "Pod/status does not select the Pod", blocks: "    match: {any: [{resources: {kinds: [Pod/status]}}]}\n", resource: podWeb, want: false},
		{name: "Pod/* selects any subresource", blocks: "    match: {any: [{resources: {kinds: [\"Pod/*\"]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "ephemeralcontainers" }, want: true},
		{name: "Pod/* also selects the Pod", blocks: "    match: {any: [{resources: {kinds: [\"Pod/*\"]}}]}\n", resource: podWeb, want: true},
		{name: "Pod/* does not select a ConfigMap", blocks: "    match: {any: [{resources: {kinds: [\"Pod/*\"]}}]}\n", resource: configMap, want: false},
		{name: "*/* selects any subresource", blocks: "    match: {any: [{resources: {kinds: [\"*/*\"]}}]}\n", resource: deployApps,
			input: func(in *Input) { in.Subresource = "scale" }, want: true},
		{name: "v1/Pod/*", blocks: "    match: {any: [{resources: {kinds: [\"v1/Pod/*\"]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "exec" }, want: true},
		{name: "v1/Pod/status", blocks: "    match: {any: [{resources: {kinds: [v1/Pod/status]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "status" }, want: true},
		{name: "apps/v1/Deployment/scale", blocks: "    match: {any: [{resources: {kinds: [apps/v1/Deployment/scale]}}]}\n", resource: deployApps,
			input: func(in *Input) { in.Subresource = "scale" }, want: true},
		{name: "Pod selects pods/ephemeralcontainers (the Pod with its new ephemeral containers)", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "ephemeralcontainers"; in.Operation = "UPDATE" }, want: true},
		{name: "v1/Pod selects pods/ephemeralcontainers", blocks: "    match: {any: [{resources: {kinds: [v1/Pod]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "ephemeralcontainers"; in.Operation = "UPDATE" }, want: true},
		{name: "Pod does not select pods/status", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "status" }, want: false},
		{name: "Pod/status does not select pods/ephemeralcontainers", blocks: "    match: {any: [{resources: {kinds: [Pod/status]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "ephemeralcontainers" }, want: false},
		{name: "Pod/exec does not select Pod/status", blocks: "    match: {any: [{resources: {kinds: [Pod/exec]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Subresource = "status" }, want: false},

		// names
		{name: "name exact", blocks: "    match: {any: [{resources: {kinds: [Pod], name: web-1}}]}\n", resource: podWeb, want: true},
		{name: "name wildcard ?", blocks: "    match: {any: [{resources: {kinds: [Pod], name: \"web-?\"}}]}\n", resource: podWeb, want: true},
		{name: "name mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod], name: web}}]}\n", resource: podWeb, want: false},
		{name: "names wildcard", blocks: "    match: {any: [{resources: {kinds: [Pod], names: [api-*, web-*]}}]}\n", resource: podWeb, want: true},
		{name: "names none match", blocks: "    match: {any: [{resources: {kinds: [Pod], names: [api-*, db]}}]}\n", resource: podWeb, want: false},

		// namespaces
		{name: "namespace", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaces: [dev, prod]}}]}\n", resource: podWeb, want: true},
		{name: "namespace wildcard", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaces: [\"pr*\"]}}]}\n", resource: podWeb, want: true},
		{name: "namespace mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaces: [dev]}}]}\n", resource: podWeb, want: false},
		{name: "Namespace kind uses its own name", blocks: "    match: {any: [{resources: {kinds: [Namespace], namespaces: [prod]}}]}\n", resource: namespaceProd, want: true},
		{name: "Namespace kind other name", blocks: "    match: {any: [{resources: {kinds: [Namespace], namespaces: [dev]}}]}\n", resource: namespaceProd, want: false},
		{name: "cluster-scoped resource and namespaces", blocks: "    match: {any: [{resources: {kinds: [ClusterRole], namespaces: [\"?*\"]}}]}\n", resource: clusterRole, want: false},

		// annotations
		{name: "annotation wildcard value", blocks: "    match: {any: [{resources: {kinds: [Pod], annotations: {team: pay*}}}]}\n", resource: podWeb, want: true},
		{name: "annotation wildcard key", blocks: "    match: {any: [{resources: {kinds: [Pod], annotations: {\"*/oncall\": alice}}}]}\n", resource: podWeb, want: true},
		{name: "annotation mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod], annotations: {team: platform}}}]}\n", resource: podWeb, want: false},
		{name: "annotation missing", blocks: "    match: {any: [{resources: {kinds: [Pod], annotations: {cost-center: \"*\"}}}]}\n", resource: podWeb, want: false},

		// selector
		{name: "selector matchLabels wildcard value", blocks: "    match: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {app: web-*}}}}]}\n", resource: podWeb, want: true},
		{name: "selector matchLabels mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {app: api}}}}]}\n", resource: podWeb, want: false},
		{name: "selector In", blocks: `    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchExpressions: [{key: tier, operator: In, values: [frontend, edge]}]
`, resource: podWeb, want: true},
		{name: "selector NotIn", blocks: `    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchExpressions: [{key: tier, operator: NotIn, values: [frontend]}]
`, resource: podWeb, want: false},
		{name: "selector Exists and DoesNotExist", blocks: `    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchLabels: {app: "*"}
            matchExpressions:
            - {key: tier, operator: Exists}
            - {key: legacy, operator: DoesNotExist}
`, resource: podWeb, want: true},
		{name: "selector DoesNotExist on a present label", blocks: `    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchExpressions: [{key: app, operator: DoesNotExist}]
`, resource: podWeb, want: false},

		// namespaceSelector
		{name: "namespaceSelector match", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaceSelector: {matchLabels: {env: prod}}}}]}\n", resource: podWeb,
			input: func(in *Input) { in.NamespaceLabels = map[string]string{"env": "prod", "team": "a"} }, want: true},
		{name: "namespaceSelector mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaceSelector: {matchLabels: {env: prod}}}}]}\n", resource: podWeb,
			input: func(in *Input) { in.NamespaceLabels = map[string]string{"env": "dev"} }, want: false},
		{name: "namespaceSelector without namespace labels", blocks: "    match: {any: [{resources: {kinds: [Pod], namespaceSelector: {matchLabels: {env: prod}}}}]}\n", resource: podWeb, want: false},
		{name: "namespaceSelector expression", blocks: `    match:
      any:
      - resources:
          kinds: [Pod]
          namespaceSelector:
            matchExpressions: [{key: env, operator: In, values: [staging, prod]}]
`, resource: podWeb, input: func(in *Input) { in.NamespaceLabels = map[string]string{"env": "staging"} }, want: true},
		{name: "namespaceSelector ignored for a Namespace", blocks: "    match: {any: [{resources: {kinds: [Namespace], namespaceSelector: {matchLabels: {env: dev}}}}]}\n", resource: namespaceProd, want: true},

		// operations
		{name: "operations default to CREATE", blocks: "    match: {any: [{resources: {kinds: [Pod], operations: [CREATE]}}]}\n", resource: podWeb, want: true},
		{name: "UPDATE-only rule on a CREATE", blocks: "    match: {any: [{resources: {kinds: [Pod], operations: [UPDATE]}}]}\n", resource: podWeb, want: false},
		{name: "UPDATE-only rule on an UPDATE", blocks: "    match: {any: [{resources: {kinds: [Pod], operations: [UPDATE]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Operation = "UPDATE"; in.OldResource = in.Resource }, want: true},
		{name: "CREATE-only rule on a DELETE", blocks: "    match: {any: [{resources: {kinds: [Pod], operations: [CREATE]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Operation = "DELETE"; in.OldResource, in.Resource = in.Resource, nil }, want: false},
		{name: "DELETE with only the old object", blocks: "    match: {any: [{resources: {kinds: [Pod], operations: [DELETE], names: [web-*]}}]}\n", resource: podWeb,
			input: func(in *Input) { in.Operation = "DELETE"; in.OldResource, in.Resource = in.Resource, nil }, want: true},

		// subjects, roles
		{name: "subject User", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: alice}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "alice" }, want: true},
		{name: "subject User wildcard", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: \"ali*\"}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "alice" }, want: true},
		{name: "subject User mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: bob}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "alice" }, want: false},
		{name: "subject User does not match a group", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: admins}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "alice"; in.UserInfo.Groups = []string{"admins"} }, want: false},
		{name: "subject Group", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: Group, name: \"system:masters\"}]}]}\n", resource: podWeb,
			input: func(in *Input) {
				in.UserInfo.Username = "alice"
				in.UserInfo.Groups = []string{"system:authenticated", "system:masters"}
			}, want: true},
		{name: "subject Group mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: Group, name: \"system:masters\"}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Groups = []string{"system:authenticated"} }, want: false},
		{name: "subject ServiceAccount", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "system:serviceaccount:ci:deployer" }, want: true},
		{name: "subject ServiceAccount other namespace", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "system:serviceaccount:prod:deployer" }, want: false},
		{name: "subject ServiceAccount wildcard name", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: ServiceAccount, name: \"*\", namespace: kube-system}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "system:serviceaccount:kube-system:replicaset-controller" }, want: true},
		{name: "subjects without user", blocks: "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: User, name: alice}]}]}\n", resource: podWeb, want: false},
		{name: "roles", blocks: "    match: {any: [{resources: {kinds: [Pod]}, roles: [\"prod:deployer\"]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Roles = []string{"prod:viewer", "prod:deployer"} }, want: true},
		{name: "roles mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod]}, roles: [\"prod:deployer\"]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Roles = []string{"dev:deployer"} }, want: false},
		{name: "clusterRoles", blocks: "    match: {any: [{resources: {kinds: [Pod]}, clusterRoles: [cluster-admin]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.ClusterRoles = []string{"cluster-admin"} }, want: true},
		{name: "clusterRoles mismatch", blocks: "    match: {any: [{resources: {kinds: [Pod]}, clusterRoles: [cluster-admin]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.ClusterRoles = []string{"view"} }, want: false},

		// any / all / inline
		{name: "any: second filter matches", blocks: "    match: {any: [{resources: {kinds: [Secret]}}, {resources: {kinds: [Pod], namespaces: [prod]}}]}\n", resource: podWeb, want: true},
		{name: "any: no filter matches", blocks: "    match: {any: [{resources: {kinds: [Secret]}}, {resources: {kinds: [Pod], namespaces: [dev]}}]}\n", resource: podWeb, want: false},
		{name: "all: every filter matches", blocks: "    match: {all: [{resources: {kinds: [Pod]}}, {resources: {kinds: [\"*\"], namespaces: [prod]}}]}\n", resource: podWeb, want: true},
		{name: "all: one filter fails", blocks: "    match: {all: [{resources: {kinds: [Pod]}}, {resources: {kinds: [\"*\"], namespaces: [dev]}}]}\n", resource: podWeb, want: false},
		{name: "inline resources", blocks: "    match: {resources: {kinds: [Pod], namespaces: [prod], selector: {matchLabels: {tier: frontend}}}}\n", resource: podWeb, want: true},
		{name: "inline resources mismatch", blocks: "    match: {resources: {kinds: [Pod], namespaces: [prod], selector: {matchLabels: {tier: backend}}}}\n", resource: podWeb, want: false},
		{name: "inline subjects", blocks: "    match:\n      resources: {kinds: [Pod]}\n      subjects: [{kind: User, name: alice}]\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Username = "alice" }, want: true},

		// exclude
		{name: "exclude any: one filter excludes", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {any: [{resources: {namespaces: [kube-system]}}, {resources: {names: [web-*]}}]}\n", resource: podWeb, want: false},
		{name: "exclude any: no filter excludes", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {any: [{resources: {namespaces: [kube-system]}}, {resources: {names: [api-*]}}]}\n", resource: podWeb, want: true},
		{name: "exclude all: every filter needed", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {all: [{resources: {namespaces: [kube-system]}}, {resources: {names: [web-*]}}]}\n", resource: podWeb, want: true},
		{name: "exclude all: every filter matches", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {all: [{resources: {namespaces: [prod]}}, {resources: {names: [web-*]}}]}\n", resource: podWeb, want: false},
		{name: "exclude inline", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {resources: {kinds: [Pod], selector: {matchLabels: {tier: frontend}}}}\n", resource: podWeb, want: false},
		{name: "exclude by subject", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {any: [{subjects: [{kind: Group, name: \"system:nodes\"}]}]}\n", resource: podWeb,
			input: func(in *Input) { in.UserInfo.Groups = []string{"system:nodes"} }, want: false},
		{name: "exclude by clusterRole not held", blocks: "    match: {any: [{resources: {kinds: [Pod]}}]}\n    exclude: {any: [{clusterRoles: [cluster-admin]}]}\n", resource: podWeb, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := loadSet(t, matchPolicy(tc.blocks))
			in := Input{Resource: resource(t, tc.resource)}
			if tc.input != nil {
				tc.input(&in)
			}
			results, err := New().Evaluate(context.Background(), set, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) > 1 {
				t.Fatalf("got %d results, want at most 1: %+v", len(results), results)
			}
			if got := len(results) == 1; got != tc.want {
				t.Fatalf("rule applied = %v, want %v (results %+v)", got, tc.want, results)
			}
			if tc.want && results[0].Status != StatusPass {
				t.Errorf("status = %s (%s), want pass", results[0].Status, results[0].Message)
			}
		})
	}
}

func TestNamespacedPolicy(t *testing.T) {
	t.Parallel()
	set := loadSet(t, `apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: team, namespace: prod}
spec:
  rules:
  - name: labels
    match: {any: [{resources: {kinds: ["*"]}}]}
    validate:
      message: label app is required
      pattern: {metadata: {labels: {app: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: implicit-default}
spec:
  rules:
  - name: labels
    match: {any: [{resources: {kinds: ["*"]}}]}
    validate:
      pattern: {metadata: {labels: {app: "?*"}}}
`)
	cases := []struct {
		name, resource string
		want           []string // policy keys that apply
	}{
		{name: "resource in the policy namespace", resource: podWeb, want: []string{"prod/team"}},
		{name: "resource in another namespace", resource: configMap, want: nil},
		{name: "resource in the default namespace", resource: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n", want: []string{"default/implicit-default"}},
		{name: "cluster-scoped resource", resource: clusterRole, want: nil},
		{name: "the Namespace itself", resource: namespaceProd, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			results := evaluate(t, set, Input{Resource: resource(t, tc.resource)})
			var got []string
			for _, r := range results {
				got = append(got, r.Policy)
			}
			if !equalStrings(got, tc.want) {
				t.Errorf("applied policies = %v, want %v", got, tc.want)
			}
		})
	}
}
