package cel

import (
	"context"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var (
	testCompilerOnce sync.Once
	testCompilerVal  *Compiler
)

// fixedNow is the clock of the shared test compiler.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testCompiler is shared: environments are expensive to build and the
// Compiler is safe for concurrent use.
func testCompiler(t testing.TB) *Compiler {
	t.Helper()
	testCompilerOnce.Do(func() {
		c, err := NewCompiler(Options{Now: func() time.Time { return fixedNow }})
		if err != nil {
			panic(err)
		}
		testCompilerVal = c
	})
	return testCompilerVal
}

func mustYAML(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return m
}

func mustCompile(t testing.TB, c *Compiler, s Spec) *Program {
	t.Helper()
	p, err := c.Compile(s)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func validateOne(t testing.TB, p *Program, in Input) Outcome {
	t.Helper()
	res, err := p.Validate(context.Background(), in)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(res.Validations) != 1 {
		t.Fatalf("got %d outcomes", len(res.Validations))
	}
	return res.Validations[0]
}

const podYAML = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels:
    app: web
    team: payments
  annotations:
    owner: alice@example.com
spec:
  replicas: 3
  priorityClassName: high
  securityContext:
    runAsUser: 0
    runAsNonRoot: false
  containers:
  - name: nginx
    image: docker.io/nginx:1.25
    ports:
    - containerPort: 8080
      name: http
    resources:
      requests:
        memory: 512Mi
        cpu: 250m
      limits:
        memory: 1Gi
        nvidia.com/gpu: 1
    securityContext:
      capabilities:
        drop: ["ALL"]
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
  - name: sidecar
    image: ghcr.io/example/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    securityContext:
      capabilities:
        drop: ["NET_RAW"]
  initContainers:
  - name: init
    image: busybox
`

func podObject(t testing.TB) map[string]any { return mustYAML(t, podYAML) }

func podRequest() map[string]any {
	return map[string]any{
		"kind":            map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource":        map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"requestKind":     map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"requestResource": map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"name":            "web",
		"namespace":       "default",
		"operation":       "CREATE",
		"userInfo": map[string]any{
			"username": "system:serviceaccount:another-namespace:another-developer",
			"groups":   []any{"system:serviceaccounts", "system:authenticated"},
		},
		"dryRun": false,
	}
}

func namespaceObject() map[string]any {
	return map[string]any{
		"metadata": map[string]any{
			"name":        "default",
			"labels":      map[string]any{"env": "prod"},
			"annotations": map[string]any{"corp.com/allowed-registries": "ghcr.io/example/,"},
		},
	}
}
