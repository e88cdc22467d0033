package engine_test

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
)

// benchCompliantPod meets every Pod Security Standards control (baseline
// and restricted), with an init container and a sidecar.
const benchCompliantPod = `apiVersion: v1
kind: Pod
metadata:
  name: payments-api-7d9f
  namespace: payments
  labels:
    app.kubernetes.io/name: payments-api
  annotations:
    container.apparmor.security.beta.kubernetes.io/api: runtime/default
spec:
  serviceAccountName: payments-api
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  initContainers:
  - name: migrate
    image: gcr.io/acme-prod/payments-migrate:2.7.1
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
  containers:
  - name: api
    image: gcr.io/acme-prod/payments-api:2.7.1
    ports:
    - name: http
      containerPort: 8080
    resources:
      requests: {cpu: 250m, memory: 256Mi}
      limits: {cpu: "1", memory: 512Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
        add: ["NET_BIND_SERVICE"]
    volumeMounts:
    - name: tmp
      mountPath: /tmp
  - name: proxy
    image: ghcr.io/org/envoy:1.30.1
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
  volumes:
  - name: tmp
    emptyDir: {}
  - name: config
    configMap:
      name: payments-api
`

// benchNoncompliantPod breaks most controls: host namespaces, a privileged
// root container with added capabilities, hostPath and a host port.
const benchNoncompliantPod = `apiVersion: v1
kind: Pod
metadata:
  name: node-debugger
  namespace: default
  annotations:
    container.apparmor.security.beta.kubernetes.io/shell: unconfined
spec:
  hostNetwork: true
  hostPID: true
  securityContext:
    runAsUser: 0
    seccompProfile:
      type: Unconfined
  containers:
  - name: shell
    image: ubuntu:24.04
    ports:
    - containerPort: 2222
      hostPort: 2222
    securityContext:
      privileged: true
      capabilities:
        add: ["SYS_ADMIN", "NET_ADMIN"]
  - name: sidecar
    image: busybox:1.36
    securityContext:
      procMount: Unmasked
      seLinuxOptions:
        type: spc_t
  volumes:
  - name: host-root
    hostPath:
      path: /
`

// benchDeployment is a restricted-compliant Deployment (autogen rules).
const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: storefront
  template:
    metadata:
      labels:
        app.kubernetes.io/name: storefront
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 101
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: web
        image: ghcr.io/org/storefront:5.3.0
        ports:
        - name: http
          containerPort: 8080
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: ["ALL"]
      - name: metrics
        image: gcr.io/acme/exporter:0.9
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: ["ALL"]
`

// benchLoadPSS compiles the 17 built-in Pod Security Standards rules (11
// baseline, 6 restricted; autogen adds the pod-controller variants) the
// way `portcullis scan --set pss-baseline --set pss-restricted` does.
func benchLoadPSS(tb testing.TB) *policy.Set {
	tb.Helper()
	files, err := controls.Files(controls.SetPSSBaseline, controls.SetPSSRestricted)
	if err != nil {
		tb.Fatal(err)
	}
	var docs []manifest.Document
	for _, f := range files {
		d, err := manifest.Decode("builtin:"+f.Path, f.Data)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, d...)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	rules := 0
	for _, p := range set.Policies {
		rules += len(p.Spec.Spec.Rules)
	}
	if set.Len() != 17 || rules != 17 {
		tb.Fatalf("built-in PSS sets: %d policies, %d rules; want 17 and 17", set.Len(), rules)
	}
	return set
}

func benchDecode(tb testing.TB, yaml string) map[string]any {
	tb.Helper()
	docs, err := manifest.Decode("bench", []byte(yaml))
	if err != nil || len(docs) != 1 {
		tb.Fatalf("decode: %d documents, %v", len(docs), err)
	}
	return docs[0].Object
}

// BenchmarkPSS17Pod evaluates one resource against the 17 PSS rules.
func BenchmarkPSS17Pod(b *testing.B) {
	set := benchLoadPSS(b)
	eng := engine.New()
	ctx := context.Background()
	cases := []struct {
		name     string
		resource string
		// wantFail is whether some rule must fail (checked once, before
		// timing, so the benchmark measures what it claims to).
		wantFail bool
	}{
		{name: "compliant", resource: benchCompliantPod},
		{name: "noncompliant", resource: benchNoncompliantPod, wantFail: true},
		{name: "deployment", resource: benchDeployment},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			in := engine.Input{Resource: benchDecode(b, bc.resource)}
			results, err := eng.Evaluate(ctx, set, in)
			if err != nil {
				b.Fatal(err)
			}
			if len(results) != 17 {
				b.Fatalf("%d results, want 17", len(results))
			}
			failed := 0
			for _, r := range results {
				switch r.Status {
				case engine.StatusFail:
					failed++
				case engine.StatusPass:
				default:
					b.Fatalf("%s/%s: %s: %s", r.Policy, r.Rule, r.Status, r.Message)
				}
			}
			if (failed > 0) != bc.wantFail {
				b.Fatalf("%d rules failed, want failures: %v", failed, bc.wantFail)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eng.Evaluate(ctx, set, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
