package pattern

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// podControllers are the kinds Kyverno auto-generates pod rules for, with
// the path from the controller to its pod template.
var podControllers = map[string][]string{
	"Deployment":            {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"Job":                   {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// simpleRule is a corpus rule our matcher can evaluate alone: a
// pattern/anyPattern validation whose match is only a list of kinds.
type simpleRule struct {
	kinds    map[string]bool
	patterns []any
	any      bool
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// ruleKinds returns the matched kinds when the match block selects on kinds
// only.
func ruleKinds(match map[string]any) (map[string]bool, bool) {
	var blocks []any
	if r, ok := match["resources"]; ok {
		blocks = append(blocks, map[string]any{"resources": r})
	}
	for _, key := range []string{"any", "all"} {
		if list, ok := match[key].([]any); ok {
			blocks = append(blocks, list...)
		}
	}
	if len(blocks) == 0 {
		return nil, false
	}
	kinds := map[string]bool{}
	for _, b := range blocks {
		bm := asMap(b)
		if len(bm) != 1 || bm["resources"] == nil {
			return nil, false
		}
		res := asMap(bm["resources"])
		for k := range res {
			if k != "kinds" {
				return nil, false
			}
		}
		list, _ := res["kinds"].([]any)
		for _, k := range list {
			s, _ := k.(string)
			kinds[s] = true
		}
	}
	return kinds, true
}

func simpleRules(doc map[string]any) map[string]simpleRule {
	out := map[string]simpleRule{}
	if ann := asMap(asMap(doc["metadata"])["annotations"]); ann["pod-policies.kyverno.io/autogen-controllers"] != nil {
		return out
	}
	rules, _ := asMap(doc["spec"])["rules"].([]any)
	for _, r := range rules {
		rm := asMap(r)
		name, _ := rm["name"].(string)
		if rm["exclude"] != nil || rm["preconditions"] != nil || rm["context"] != nil {
			continue
		}
		kinds, ok := ruleKinds(asMap(rm["match"]))
		if !ok {
			continue
		}
		v := asMap(rm["validate"])
		var sr simpleRule
		sr.kinds = kinds
		if p, ok := v["pattern"]; ok {
			sr.patterns = []any{p}
		} else if ap, ok := v["anyPattern"].([]any); ok {
			sr.patterns, sr.any = ap, true
		} else {
			continue
		}
		if strings.Contains(fmt.Sprint(sr.patterns), "{{") {
			continue
		}
		out[name] = sr
	}
	return out
}

// wrapForController nests a pod pattern under a controller's template path,
// like Kyverno's autogen.
func wrapForController(p any, path []string) any {
	for i := len(path) - 1; i >= 0; i-- {
		p = map[string]any{path[i]: p}
	}
	return p
}

// evaluate returns the Kyverno rule status for one resource.
func (sr simpleRule) evaluate(t *testing.T, resource map[string]any, wrap []string) string {
	t.Helper()
	var skipped, failed int
	for _, raw := range sr.patterns {
		if wrap != nil {
			raw = wrapForController(raw, wrap)
		}
		p, err := Compile(raw)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		status, _ := outcome(t, p.Validate(resource))
		if !sr.any {
			return status
		}
		switch status {
		case "pass":
			return "pass"
		case "skip":
			skipped++
		default:
			failed++
		}
	}
	if failed == 0 && skipped > 0 {
		return "skip"
	}
	return "fail"
}

// TestCorpusConformance replays the expected results of the corpus'
// kyverno-test.yaml files for every rule our matcher can evaluate on its own.
func TestCorpusConformance(t *testing.T) {
	t.Parallel()
	checked := 0
	walkCorpus(t, func(path string) {
		if filepath.Base(path) != "kyverno-test.yaml" {
			return
		}
		dir := filepath.Dir(path)
		test := yamlDocs(t, path)
		if len(test) == 0 {
			return
		}
		policies := map[string]map[string]simpleRule{}
		for _, p := range listOf(test[0]["policies"]) {
			for _, doc := range yamlDocs(t, filepath.Join(dir, p)) {
				if k, _ := doc["kind"].(string); k == "ClusterPolicy" || k == "Policy" {
					name, _ := asMap(doc["metadata"])["name"].(string)
					policies[name] = simpleRules(doc)
				}
			}
		}
		resources := map[string]map[string]any{}
		for _, r := range listOf(test[0]["resources"]) {
			for _, doc := range yamlDocs(t, filepath.Join(dir, r)) {
				kind, _ := doc["kind"].(string)
				name, _ := asMap(doc["metadata"])["name"].(string)
				resources[kind+"/"+name] = doc
			}
		}
		results, _ := test[0]["results"].([]any)
		for _, r := range results {
			rm := asMap(r)
			policy, _ := rm["policy"].(string)
			rule, _ := rm["rule"].(string)
			kind, _ := rm["kind"].(string)
			want, _ := rm["result"].(string)
			rule = strings.TrimPrefix(strings.TrimPrefix(rule, "autogen-cronjob-"), "autogen-")
			sr, ok := policies[policy][rule]
			if !ok {
				continue
			}
			var wrap []string
			if !sr.kinds[kind] {
				w, isController := podControllers[kind]
				if !isController || !sr.kinds["Pod"] {
					continue
				}
				wrap = w
			}
			names := listOf(rm["resources"])
			if s, ok := rm["resource"].(string); ok {
				names = append(names, s)
			}
			sort.Strings(names)
			for _, name := range names {
				res, ok := resources[kind+"/"+name]
				if !ok {
					continue
				}
				checked++
				if got := sr.evaluate(t, res, wrap); got != want {
					t.Errorf("%s: %s/%s %s/%s: got %s, want %s", dir, policy, rule, kind, name, got, want)
				}
			}
		}
	})
	if checked == 0 {
		t.Fatal("no corpus results checked")
	}
	t.Logf("checked %d corpus results", checked)
}

func listOf(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
