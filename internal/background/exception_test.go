package background

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	"k8s.io/apimachinery/pkg/api/meta"
)

const exceptionTestPolicies = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: excepted}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: other}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`

const exceptionTestException = `
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: x, namespace: exceptions}
spec:
  exceptions: [{policyName: excepted, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [ConfigMap], names: [NAME]}}]}
`

// TestDiffPolicyExceptions: adding, editing or deleting a PolicyException
// re-evaluates the policies it names (only those), since their results
// change with it.
func TestDiffPolicyExceptions(t *testing.T) {
	load := func(data string) map[string]policyPrint {
		t.Helper()
		set, err := policy.LoadBytes("p.yaml", []byte(data), policy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return prints(set, meta.NewDefaultRESTMapper(nil))
	}
	none := load(exceptionTestPolicies)
	one := load(exceptionTestPolicies + replaceName(exceptionTestException, "a"))
	edited := load(exceptionTestPolicies + replaceName(exceptionTestException, "b"))
	for _, step := range []struct {
		name     string
		from, to map[string]policyPrint
	}{{"added", none, one}, {"edited", one, edited}, {"deleted", edited, none}} {
		d := diff(step.from, step.to)
		if got := slices.Sorted(maps.Keys(d.changed)); !slices.Equal(got, []string{"ClusterPolicy/excepted"}) {
			t.Errorf("exception %s: changed = %v, want the excepted policy only", step.name, got)
		}
	}
}

func replaceName(s, name string) string { return strings.ReplaceAll(s, "NAME", name) }
