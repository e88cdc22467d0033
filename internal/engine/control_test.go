package engine

import "testing"

// TestControlAndRemediation checks that the control ID and remediation
// annotations of a policy reach every result of its rules, autogen rules
// included, and of a ValidatingPolicy.
func TestControlAndRemediation(t *testing.T) {
	t.Parallel()
	set := loadSet(t, `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-privileged
  annotations:
    portcullis.dev/control-id: PC-0001
    portcullis.dev/remediation: Set securityContext.privileged to false.
spec:
  rules:
  - name: privileged
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: privileged
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): false
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: vpol
  annotations:
    portcullis.dev/control-id: PC-0002
    portcullis.dev/remediation: Name it.
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  validations:
  - expression: "object.metadata.name != ''"
`)
	pod := resource(t, `
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - name: c
    image: nginx
    securityContext: {privileged: true}
`)
	results := evaluate(t, set, Input{Resource: pod})
	want := map[string][2]string{
		"no-privileged": {"PC-0001", "Set securityContext.privileged to false."},
		"vpol":          {"PC-0002", "Name it."},
	}
	seen := 0
	for _, r := range results {
		w, ok := want[r.Policy]
		if !ok {
			continue
		}
		seen++
		if r.Control != w[0] || r.Remediation != w[1] {
			t.Errorf("%s: Control %q Remediation %q, want %q %q", r.Policy, r.Control, r.Remediation, w[0], w[1])
		}
	}
	if seen != 2 {
		t.Fatalf("got %d results of the two policies: %+v", seen, results)
	}
	deploy := resource(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: default}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - name: c
        image: nginx
        securityContext: {privileged: true}
`)
	for _, r := range evaluate(t, set, Input{Resource: deploy}) {
		if r.Policy == "no-privileged" && (!r.Autogen || r.Control != "PC-0001" || r.Remediation == "") {
			t.Errorf("autogen result %+v", r)
		}
	}
}
