package pattern

import "testing"

const benchPattern = `
spec:
  =(securityContext):
    =(runAsUser): ">0"
    =(seccompProfile):
      =(type): "RuntimeDefault | Localhost"
  =(hostNetwork): "false"
  =(hostPID): "false"
  =(volumes):
  - X(hostPath): "null"
  =(initContainers):
  - =(securityContext):
      =(allowPrivilegeEscalation): "false"
      =(privileged): "false"
  containers:
  - image: "!*:latest"
    resources:
      requests:
        memory: "?*"
        cpu: "?*"
      limits:
        memory: "<4Gi"
    =(ports):
    - =(hostPort): 0
    =(securityContext):
      =(allowPrivilegeEscalation): "false"
      =(privileged): "false"
      =(runAsUser): ">0"
`

const benchPod = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web, tier: frontend}
spec:
  securityContext: {runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  volumes:
  - name: data
    emptyDir: {}
  - name: config
    configMap: {name: cfg}
  initContainers:
  - name: init
    image: busybox:1.36
    securityContext: {allowPrivilegeEscalation: false}
  containers:
  - name: web
    image: nginx:1.25
    ports: [{containerPort: 80}, {containerPort: 443}]
    resources:
      requests: {memory: 128Mi, cpu: 100m}
      limits: {memory: 256Mi}
    securityContext: {allowPrivilegeEscalation: false, privileged: false, runAsUser: 1000}
  - name: sidecar
    image: envoy:v1.29
    ports: [{containerPort: 9901}]
    resources:
      requests: {memory: 64Mi, cpu: 50m}
      limits: {memory: 128Mi}
`

func BenchmarkValidatePSSLikePod(b *testing.B) {
	p, err := Compile(y(b, benchPattern))
	if err != nil {
		b.Fatal(err)
	}
	pod := y(b, benchPod)
	if err := p.Validate(pod); err != nil {
		b.Fatalf("benchmark pod should match: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Validate(pod); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateFailingPod(b *testing.B) {
	p, err := Compile(y(b, benchPattern))
	if err != nil {
		b.Fatal(err)
	}
	pod := y(b, benchPod)
	pod.(map[string]any)["spec"].(map[string]any)["hostPID"] = true
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Validate(pod); err == nil {
			b.Fatal("expected failure")
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	raw := y(b, benchPattern)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(raw); err != nil {
			b.Fatal(err)
		}
	}
}
