package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var allControllers = []string{"DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "StatefulSet"}

// loadPolicy loads data, which must hold exactly one valid policy.
func loadPolicy(t *testing.T, data string) *Policy {
	t.Helper()
	set, err := LoadBytes("test.yaml", []byte(data), Options{})
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	if set.Len() != 1 {
		t.Fatalf("loaded %d policies, want 1", set.Len())
	}
	return set.Policies[0]
}

func rule(t *testing.T, p *Policy, name string) *Rule {
	t.Helper()
	for _, r := range p.Rules {
		if r.Name() == name {
			return r
		}
	}
	t.Fatalf("policy %s has no rule %q (rules: %v)", p.Name(), name, ruleNames(p.Rules))
	return nil
}

// jsonOf renders v as JSON for textual assertions on rewritten variables.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestAutogenPodRules(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "autogen", "pod-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := LoadBytes("pod-rules.yaml", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := set.Policy("pod-rules")
	written := []string{"run-as-non-root", "no-latest", "each-container", "one-of", "baseline"}
	var want []string
	want = append(want, written...)
	for _, n := range written {
		want = append(want, "autogen-"+n, "autogen-cronjob-"+n)
	}
	if got := ruleNames(p.Rules); !slices.Equal(got, want) {
		t.Fatalf("rules = %v, want %v", got, want)
	}
	if set.NumRules() != 15 {
		t.Errorf("NumRules = %d, want 15", set.NumRules())
	}
	for _, n := range written {
		orig, ctrl, cron := rule(t, p, n), rule(t, p, "autogen-"+n), rule(t, p, "autogen-cronjob-"+n)
		if orig.Autogen != "" || ctrl.Autogen != AutogenControllers || cron.Autogen != AutogenCronJob {
			t.Errorf("%s: Autogen = %q, %q, %q", n, orig.Autogen, ctrl.Autogen, cron.Autogen)
		}
		if got := ctrl.Spec.MatchResources.Any[0].Kinds; !slices.Equal(got, allControllers) {
			t.Errorf("%s: controller kinds = %v, want %v", n, got, allControllers)
		}
		if got := cron.Spec.MatchResources.Any[0].Kinds; !slices.Equal(got, []string{"CronJob"}) {
			t.Errorf("%s: cronjob kinds = %v, want [CronJob]", n, got)
		}
		if ctrl.FailureAction != Enforce || cron.FailureAction != Enforce {
			t.Errorf("%s: autogen rules lost the failure action", n)
		}
		if got := orig.Spec.MatchResources.Any[0].Kinds; !slices.Equal(got, []string{"Pod"}) {
			t.Errorf("%s: the written rule was modified: kinds %v", n, got)
		}
	}
	for kind, want := range map[string][]string{
		"Pod":         written,
		"Deployment":  {"autogen-run-as-non-root", "autogen-no-latest", "autogen-each-container", "autogen-one-of", "autogen-baseline"},
		"CronJob":     {"autogen-cronjob-run-as-non-root", "autogen-cronjob-no-latest", "autogen-cronjob-each-container", "autogen-cronjob-one-of", "autogen-cronjob-baseline"},
		"ReplicaSet":  {"autogen-run-as-non-root", "autogen-no-latest", "autogen-each-container", "autogen-one-of", "autogen-baseline"},
		"Service":     nil,
		"StatefulSet": {"autogen-run-as-non-root", "autogen-no-latest", "autogen-each-container", "autogen-one-of", "autogen-baseline"},
	} {
		if got := ruleNames(set.RulesFor(kind)); !slices.Equal(got, want) {
			t.Errorf("RulesFor(%s) = %v, want %v", kind, got, want)
		}
	}

	t.Run("pattern moved under the pod template", func(t *testing.T) {
		t.Parallel()
		orig := rule(t, p, "run-as-non-root").Spec.Validation.Pattern
		ctrl := rule(t, p, "autogen-run-as-non-root")
		cron := rule(t, p, "autogen-cronjob-run-as-non-root")
		wantCtrl := map[string]any{"spec": map[string]any{"template": orig}}
		wantCron := map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": orig}}}}
		if !reflect.DeepEqual(ctrl.Spec.Validation.Pattern, wantCtrl) {
			t.Errorf("controller pattern = %s", jsonOf(t, ctrl.Spec.Validation.Pattern))
		}
		if !reflect.DeepEqual(cron.Spec.Validation.Pattern, wantCron) {
			t.Errorf("cronjob pattern = %s", jsonOf(t, cron.Spec.Validation.Pattern))
		}
		if ctrl.Pattern == nil || cron.Pattern == nil {
			t.Error("autogen patterns without variables should be precompiled")
		}
		if got, want := ctrl.Spec.Validation.Message, "Pod {{ request.object.spec.template.metadata.name }} must run as non-root."; got != want {
			t.Errorf("controller message = %q, want %q", got, want)
		}
		if got, want := cron.Spec.Validation.Message, "Pod {{ request.object.spec.jobTemplate.spec.template.metadata.name }} must run as non-root."; got != want {
			t.Errorf("cronjob message = %q, want %q", got, want)
		}
		if got, want := jsonOf(t, ctrl.Spec.Preconditions), "request.object.spec.template.spec.hostNetwork || `false`"; !strings.Contains(got, want) {
			t.Errorf("controller preconditions = %s, want %s", got, want)
		}
		if got, want := jsonOf(t, cron.Spec.Preconditions), "request.object.spec.jobTemplate.spec.template.spec.hostNetwork || `false`"; !strings.Contains(got, want) {
			t.Errorf("cronjob preconditions = %s, want %s", got, want)
		}
	})

	t.Run("deny variables rewritten", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			rule string
			want []string
		}{
			{"no-latest", []string{"{{ request.object.spec.containers[].image }}", "{{ request.oldObject.metadata.labels.frozen || '' }}"}},
			{"autogen-no-latest", []string{"{{ request.object.spec.template.spec.containers[].image }}", "{{ request.oldObject.spec.template.metadata.labels.frozen || '' }}"}},
			{"autogen-cronjob-no-latest", []string{"{{ request.object.spec.jobTemplate.spec.template.spec.containers[].image }}", "{{ request.oldObject.spec.jobTemplate.spec.template.metadata.labels.frozen || '' }}"}},
		}
		for _, tc := range cases {
			r := rule(t, p, tc.rule)
			conds := r.Spec.Validation.Deny.Conditions.(map[string]any)["any"].([]any)
			for i, want := range tc.want {
				if got := conds[i].(map[string]any)["key"]; got != want {
					t.Errorf("%s: deny key %d = %v, want %q", tc.rule, i, got, want)
				}
			}
			if r.Spec.Validation.Pattern != nil {
				t.Errorf("%s: deny rule got a pattern", tc.rule)
			}
		}
	})

	t.Run("foreach list rewritten", func(t *testing.T) {
		t.Parallel()
		for name, want := range map[string]string{
			"each-container":                 "request.object.spec.containers",
			"autogen-each-container":         "request.object.spec.template.spec.containers",
			"autogen-cronjob-each-container": "request.object.spec.jobTemplate.spec.template.spec.containers",
		} {
			fe := rule(t, p, name).Spec.Validation.ForEach
			if len(fe) != 1 || fe[0].List != want {
				t.Errorf("%s: foreach = %+v, want list %q", name, fe, want)
			}
			if fe[0].Deny == nil {
				t.Errorf("%s: foreach lost its deny", name)
			}
		}
	})

	t.Run("anyPattern moved under the pod template", func(t *testing.T) {
		t.Parallel()
		orig := rule(t, p, "one-of").Spec.Validation.AnyPattern.([]any)
		ctrl := rule(t, p, "autogen-one-of")
		cron := rule(t, p, "autogen-cronjob-one-of")
		gotCtrl := ctrl.Spec.Validation.AnyPattern.([]any)
		gotCron := cron.Spec.Validation.AnyPattern.([]any)
		if len(gotCtrl) != 2 || len(gotCron) != 2 || len(ctrl.AnyPatterns) != 2 {
			t.Fatalf("anyPattern lengths = %d, %d", len(gotCtrl), len(gotCron))
		}
		for i := range orig {
			if w := map[string]any{"spec": map[string]any{"template": orig[i]}}; !reflect.DeepEqual(gotCtrl[i], w) {
				t.Errorf("controller anyPattern[%d] = %s", i, jsonOf(t, gotCtrl[i]))
			}
			if w := map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": orig[i]}}}}; !reflect.DeepEqual(gotCron[i], w) {
				t.Errorf("cronjob anyPattern[%d] = %s", i, jsonOf(t, gotCron[i]))
			}
		}
	})

	t.Run("podSecurity kept as is", func(t *testing.T) {
		t.Parallel()
		for _, n := range []string{"autogen-baseline", "autogen-cronjob-baseline"} {
			r := rule(t, p, n)
			ps := r.Spec.Validation.PodSecurity
			if ps == nil || ps.Level != "baseline" || ps.Version != "latest" || r.PodSecurity == nil {
				t.Errorf("%s: podSecurity = %+v", n, ps)
			}
		}
	})
}

func TestAutogenControllersAnnotation(t *testing.T) {
	t.Parallel()
	policy := func(annotation string) string {
		meta := "  name: annotated\n"
		if annotation != "-" {
			meta += "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: \"" + annotation + "\"\n"
		}
		return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
` + meta + `spec:
  rules:
  - name: check
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      pattern:
        spec:
          hostPID: "false"
`
	}
	type gen struct {
		name  string
		kinds []string
	}
	cases := []struct {
		name       string
		annotation string // "-" for none
		want       []gen
	}{
		{name: "no annotation", annotation: "-", want: []gen{{"check", []string{"Pod"}}, {"autogen-check", allControllers}, {"autogen-cronjob-check", []string{"CronJob"}}}},
		{name: "none", annotation: "none", want: []gen{{"check", []string{"Pod"}}}},
		{name: "Deployment", annotation: "Deployment", want: []gen{{"check", []string{"Pod"}}, {"autogen-check", []string{"Deployment"}}}},
		{name: "Deployment,CronJob", annotation: "Deployment,CronJob", want: []gen{{"check", []string{"Pod"}}, {"autogen-check", []string{"Deployment"}}, {"autogen-cronjob-check", []string{"CronJob"}}}},
		{name: "CronJob only", annotation: "CronJob", want: []gen{{"check", []string{"Pod"}}, {"autogen-cronjob-check", []string{"CronJob"}}}},
		{name: "several, unsorted", annotation: "StatefulSet,DaemonSet", want: []gen{{"check", []string{"Pod"}}, {"autogen-check", []string{"DaemonSet", "StatefulSet"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := loadPolicy(t, policy(tc.annotation))
			var got []gen
			for _, r := range p.Rules {
				got = append(got, gen{r.Name(), r.Spec.MatchResources.Any[0].Kinds})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rules = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAutogenNotApplied(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		rules string
	}{
		{name: "names", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod], names: [web-*]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "name", rules: `
  - name: r
    match: {resources: {kinds: [Pod], name: web}}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "selector", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {app: web}}}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "annotations", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod], annotations: {team: web}}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "selector in exclude", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    exclude: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {trusted: "true"}}}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "Pod mixed with other kinds", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod, Service]}}]}
    validate: {pattern: {metadata: {labels: {app: "?*"}}}}
`},
		{name: "another rule uses names", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
  - name: other
    match: {any: [{resources: {kinds: [ConfigMap], names: [settings]}}]}
    validate: {pattern: {data: {a: "?*"}}}
`},
		{name: "exclude without Pod", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    exclude: {any: [{resources: {kinds: [Deployment]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "controllers only", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Deployment]}}]}
    validate: {pattern: {spec: {replicas: ">1"}}}
`},
		{name: "no pod kinds", rules: `
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {data: {a: "?*"}}}
`},
		{name: "written autogen rule", rules: `
  - name: autogen-mine
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`},
		{name: "policy with a generate rule", rules: `
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
  - name: gen
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate: {kind: ConfigMap, apiVersion: v1, name: x, namespace: "{{ request.object.metadata.name }}", data: {}}
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := loadPolicy(t, badRule(strings.TrimPrefix(tc.rules, "\n")))
			for _, r := range p.Rules {
				if r.Autogen != "" || (strings.HasPrefix(r.Name(), "autogen-") && r.Name() != "autogen-mine") {
					t.Errorf("unexpected autogen rule %q", r.Name())
				}
			}
			if n := strings.Count(tc.rules, "- name:"); len(p.Rules) != n {
				t.Errorf("rules = %v, want the %d written rules", ruleNames(p.Rules), n)
			}
		})
	}
}

func TestAutogenMatchForms(t *testing.T) {
	t.Parallel()
	t.Run("inline resources", func(t *testing.T) {
		t.Parallel()
		p := loadPolicy(t, badRule(`  - name: r
    match:
      resources:
        kinds: [Pod]
        namespaces: [prod]
    validate: {pattern: {spec: {hostPID: "false"}}}
`))
		ctrl, cron := rule(t, p, "autogen-r"), rule(t, p, "autogen-cronjob-r")
		if got := ctrl.Spec.MatchResources.Kinds; !slices.Equal(got, allControllers) {
			t.Errorf("controller kinds = %v", got)
		}
		if got := cron.Spec.MatchResources.Kinds; !slices.Equal(got, []string{"CronJob"}) {
			t.Errorf("cronjob kinds = %v", got)
		}
		if got := cron.Spec.MatchResources.Namespaces; !slices.Equal(got, []string{"prod"}) {
			t.Errorf("namespaces not carried over: %v", got)
		}
	})
	t.Run("any with a non-Pod filter", func(t *testing.T) {
		t.Parallel()
		p := loadPolicy(t, badRule(`  - name: r
    match:
      any:
      - resources: {kinds: [Pod]}
      - resources: {kinds: [Deployment], namespaces: [legacy]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`))
		ctrl, cron := rule(t, p, "autogen-r"), rule(t, p, "autogen-cronjob-r")
		if got := ctrl.Spec.MatchResources.Any; len(got) != 2 || !slices.Equal(got[0].Kinds, allControllers) || !slices.Equal(got[1].Kinds, []string{"Deployment"}) {
			t.Errorf("controller match.any = %+v", got)
		}
		// The CronJob rule replaces the kinds of every filter.
		if got := cron.Spec.MatchResources.Any; len(got) != 2 || !slices.Equal(got[0].Kinds, []string{"CronJob"}) || !slices.Equal(got[1].Kinds, []string{"CronJob"}) {
			t.Errorf("cronjob match.any = %+v", got)
		}
	})
	t.Run("exclude with Pod", func(t *testing.T) {
		t.Parallel()
		p := loadPolicy(t, badRule(`  - name: r
    match: {all: [{resources: {kinds: [Pod]}}]}
    exclude: {any: [{resources: {kinds: [Pod], namespaces: [kube-system]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`))
		ctrl, cron := rule(t, p, "autogen-r"), rule(t, p, "autogen-cronjob-r")
		if got := ctrl.Spec.MatchResources.All[0].Kinds; !slices.Equal(got, allControllers) {
			t.Errorf("controller match.all kinds = %v", got)
		}
		if got := ctrl.Spec.ExcludeResources.Any[0]; !slices.Equal(got.Kinds, allControllers) || !slices.Equal(got.Namespaces, []string{"kube-system"}) {
			t.Errorf("controller exclude = %+v", got)
		}
		if got := cron.Spec.ExcludeResources.Any[0].Kinds; !slices.Equal(got, []string{"CronJob"}) {
			t.Errorf("cronjob exclude kinds = %v", got)
		}
		if ctrl.Exclude == nil || len(ctrl.Exclude.Any) != 1 {
			t.Errorf("controller exclude not compiled: %+v", ctrl.Exclude)
		}
	})
	t.Run("versioned Pod kind", func(t *testing.T) {
		t.Parallel()
		p := loadPolicy(t, badRule(`  - name: r
    match: {any: [{resources: {kinds: [v1/Pod]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`))
		if got := ruleNames(p.Rules); !slices.Equal(got, []string{"r", "autogen-r", "autogen-cronjob-r"}) {
			t.Errorf("rules = %v", got)
		}
	})
}

func TestAutogenLongNames(t *testing.T) {
	t.Parallel()
	name := strings.Repeat("a", 50) + strings.Repeat("b", 13) // 63 characters, the longest rule name
	p := loadPolicy(t, badRule(`  - name: `+name+`
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {spec: {hostPID: "false"}}}
`))
	want := []string{name, ("autogen-" + name)[:63], ("autogen-cronjob-" + name)[:63]}
	if got := ruleNames(p.Rules); !slices.Equal(got, want) {
		t.Fatalf("rules = %v, want %v", got, want)
	}
	for _, r := range p.Rules {
		if len(r.Name()) > 63 {
			t.Errorf("rule name %q is %d characters long", r.Name(), len(r.Name()))
		}
	}
	if want[1] == want[2] {
		t.Fatal("truncated names collide")
	}
}
