// Command genmanifests writes a realistic, reproducible set of Kubernetes
// manifests for benchmarks and load tests: Pods, Deployments,
// StatefulSets, DaemonSets, Jobs, CronJobs, Services and ConfigMaps, as
// multi-document YAML. Workloads carry one to four containers, often an
// init container, and a mix of security settings: about half are hardened
// (they pass every built-in control), the rest miss restricted or
// runbook controls, and some are outright insecure (privileged, host
// namespaces, hostPath, images from unapproved registries).
//
// Usage:
//
//	go run ./hack/genmanifests -n 10000 -o /tmp/10k.yaml
//	go run ./hack/genmanifests -n 10000 -o /tmp/manifests/   # files of 1000 documents
//	go run ./hack/genmanifests -n 100 -seed 7 | portcullis scan -
//
// The same -n and -seed always give the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// docsPerFile is how many documents go into each file when -o names a
// directory.
const docsPerFile = 1000

func main() {
	n := flag.Int("n", 1000, "number of resources (YAML documents) to generate")
	out := flag.String("o", "-", "output: a file, a directory (existing, or ending in /) for files of 1000 documents, or - for standard output")
	seed := flag.Uint64("seed", 1, "random seed; the same seed and -n give the same output")
	pods := flag.Bool("pods", false, "only small bare Pods (one container, about 600 bytes each; every other one breaks 14 built-in controls), like a dump of a namespace's Pods: -n 84000 is 50 MB")
	flag.Parse()
	if *n < 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*n, *out, *seed, *pods); err != nil {
		fmt.Fprintln(os.Stderr, "genmanifests:", err)
		os.Exit(1)
	}
}

func run(n int, out string, seed uint64, pods bool) error {
	g := newGenerator(seed)
	g.pods = pods
	if out == "-" || out == "" {
		w := bufio.NewWriter(os.Stdout)
		if err := g.write(w, 0, n); err != nil {
			return err
		}
		return w.Flush()
	}
	if info, err := os.Stat(out); (err == nil && info.IsDir()) || strings.HasSuffix(out, "/") {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		for start, file := 0, 1; start < n; start, file = start+docsPerFile, file+1 {
			name := filepath.Join(out, fmt.Sprintf("manifests-%04d.yaml", file))
			if err := writeFile(name, func(w io.Writer) error { return g.write(w, start, min(docsPerFile, n-start)) }); err != nil {
				return err
			}
		}
		return nil
	}
	return writeFile(out, func(w io.Writer) error { return g.write(w, 0, n) })
}

func writeFile(name string, fill func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// generator produces documents from one random stream.
type generator struct {
	r *rand.Rand
	// pods makes every resource a small bare Pod (smallPod).
	pods bool
}

func newGenerator(seed uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// write writes count documents, numbered from start, separated by "---".
func (g *generator) write(w io.Writer, start, count int) error {
	for i := start; i < start+count; i++ {
		if g.pods {
			if _, err := io.WriteString(w, g.smallPod(i)); err != nil {
				return err
			}
			continue
		}
		data, err := yaml.Marshal(g.resource(i))
		if err != nil {
			return err
		}
		if i > start {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

type obj = map[string]any

var (
	namespaces = []string{"payments", "checkout", "search", "catalog", "identity", "logging", "monitoring", "batch", "web", "data"}
	components = []string{"api", "worker", "frontend", "gateway", "cache", "indexer", "scheduler", "exporter", "auth", "ledger", "notifier", "reporter"}
	// Images: approved registries first, then Docker Hub and others.
	approvedImages = []string{
		"gcr.io/acme-prod/%s:1.%d.0", "ghcr.io/org/%s:2.%d.1", "gcr.io/acme-shared/%s@sha256:%064d",
	}
	otherImages = []string{"docker.io/library/%s:1.%d", "quay.io/acme/%s:v%d", "%s:latest-%d", "ghcr.io/someone/%s:%d.0"}
	sidecars    = []string{"envoy-proxy", "log-forwarder", "metrics-agent", "vault-agent"}
)

// kind picks a kind with weights resembling a real cluster's manifests.
func (g *generator) kind() string {
	switch x := g.r.IntN(100); {
	case x < 30:
		return "Deployment"
	case x < 40:
		return "Pod"
	case x < 48:
		return "StatefulSet"
	case x < 53:
		return "DaemonSet"
	case x < 58:
		return "Job"
	case x < 63:
		return "CronJob"
	case x < 85:
		return "Service"
	default:
		return "ConfigMap"
	}
}

// profile is how a workload treats security.
type profile int

const (
	hardened profile = iota // passes every built-in control
	baseline                // meets PSS baseline, misses restricted/runbook controls
	sloppy                  // a few scattered violations
	insecure                // privileged, host access, unapproved images
)

func (g *generator) profile() profile {
	switch x := g.r.IntN(100); {
	case x < 50:
		return hardened
	case x < 75:
		return baseline
	case x < 92:
		return sloppy
	default:
		return insecure
	}
}

func (g *generator) resource(i int) obj {
	ns := namespaces[g.r.IntN(len(namespaces))]
	comp := components[g.r.IntN(len(components))]
	name := fmt.Sprintf("%s-%s-%05d", ns, comp, i)
	labels := obj{
		"app.kubernetes.io/name":       comp,
		"app.kubernetes.io/instance":   name,
		"app.kubernetes.io/part-of":    ns,
		"app.kubernetes.io/managed-by": "helm",
		"team":                         ns,
	}
	meta := obj{"name": name, "namespace": ns, "labels": labels}
	if g.r.IntN(3) == 0 {
		meta["annotations"] = obj{"deployment.kubernetes.io/revision": fmt.Sprint(g.r.IntN(40) + 1),
			"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}
	}
	selector := obj{"matchLabels": obj{"app.kubernetes.io/name": comp, "app.kubernetes.io/instance": name}}
	tmplMeta := obj{"labels": obj{"app.kubernetes.io/name": comp, "app.kubernetes.io/instance": name, "team": ns}}
	switch kind := g.kind(); kind {
	case "Service":
		return obj{"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": obj{
			"type":     []string{"ClusterIP", "ClusterIP", "ClusterIP", "LoadBalancer", "NodePort"}[g.r.IntN(5)],
			"selector": obj{"app.kubernetes.io/name": comp, "app.kubernetes.io/instance": name},
			"ports": []any{
				obj{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
				obj{"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
			},
		}}
	case "ConfigMap":
		data := obj{}
		for k := 0; k < 3+g.r.IntN(8); k++ {
			data[fmt.Sprintf("SETTING_%02d", k)] = fmt.Sprintf("value-%d-%d", i, g.r.IntN(1000))
		}
		data["app.properties"] = fmt.Sprintf("server.port=8080\nlog.level=%s\nfeature.flags=a,b,c\n", []string{"info", "debug", "warn"}[g.r.IntN(3)])
		return obj{"apiVersion": "v1", "kind": kind, "metadata": meta, "data": data}
	case "Pod":
		return obj{"apiVersion": "v1", "kind": kind, "metadata": mergeLabels(meta, tmplMeta), "spec": g.podSpec(comp, name, "Always")}
	case "Deployment":
		return obj{"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": obj{
			"replicas": 1 + g.r.IntN(6), "selector": selector,
			"strategy": obj{"type": "RollingUpdate", "rollingUpdate": obj{"maxSurge": "25%", "maxUnavailable": 0}},
			"template": obj{"metadata": tmplMeta, "spec": g.podSpec(comp, name, "Always")},
		}}
	case "StatefulSet":
		return obj{"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": obj{
			"replicas": 3, "serviceName": name, "selector": selector,
			"template": obj{"metadata": tmplMeta, "spec": g.podSpec(comp, name, "Always")},
			"volumeClaimTemplates": []any{obj{
				"metadata": obj{"name": "data"},
				"spec": obj{"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "standard",
					"resources": obj{"requests": obj{"storage": fmt.Sprintf("%dGi", 1+g.r.IntN(100))}}},
			}},
		}}
	case "DaemonSet":
		return obj{"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": obj{
			"selector": selector,
			"template": obj{"metadata": tmplMeta, "spec": g.podSpec(comp, name, "Always")},
		}}
	case "Job":
		return obj{"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": obj{
			"backoffLimit": 3, "ttlSecondsAfterFinished": 3600,
			"template": obj{"metadata": tmplMeta, "spec": g.podSpec(comp, name, "OnFailure")},
		}}
	default: // CronJob
		return obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": obj{
			"schedule":          fmt.Sprintf("%d %d * * *", g.r.IntN(60), g.r.IntN(24)),
			"concurrencyPolicy": "Forbid",
			"jobTemplate": obj{"spec": obj{"backoffLimit": 2,
				"template": obj{"metadata": tmplMeta, "spec": g.podSpec(comp, name, "OnFailure")}}},
		}}
	}
}

func mergeLabels(meta, tmpl obj) obj {
	out := obj{}
	for k, v := range meta {
		out[k] = v
	}
	labels := obj{}
	for k, v := range meta["labels"].(obj) {
		labels[k] = v
	}
	for k, v := range tmpl["labels"].(obj) {
		labels[k] = v
	}
	out["labels"] = labels
	return out
}

// podSpec returns a Pod spec whose security settings follow a random
// profile.
func (g *generator) podSpec(comp, name, restart string) obj {
	p := g.profile()
	spec := obj{
		"restartPolicy":                 restart,
		"serviceAccountName":            comp,
		"terminationGracePeriodSeconds": 30,
		"volumes": []any{
			obj{"name": "config", "configMap": obj{"name": name}},
			obj{"name": "tmp", "emptyDir": obj{"medium": "Memory", "sizeLimit": "64Mi"}},
		},
	}
	if g.r.IntN(2) == 0 {
		spec["nodeSelector"] = obj{"kubernetes.io/os": "linux"}
	}
	if g.r.IntN(3) == 0 {
		spec["tolerations"] = []any{obj{"key": "dedicated", "operator": "Equal", "value": comp, "effect": "NoSchedule"}}
	}
	if p == hardened || (p != insecure && g.r.IntN(2) == 0) {
		psc := obj{"runAsNonRoot": true, "runAsUser": 10000 + g.r.IntN(1000), "runAsGroup": 10000, "fsGroup": 10000}
		if p == hardened || g.r.IntN(2) == 0 {
			psc["seccompProfile"] = obj{"type": "RuntimeDefault"}
		}
		spec["securityContext"] = psc
	}
	if p == insecure {
		spec["securityContext"] = obj{"runAsUser": 0}
		switch g.r.IntN(3) {
		case 0:
			spec["hostNetwork"] = true
		case 1:
			spec["hostPID"] = true
		}
		if g.r.IntN(2) == 0 {
			vols := spec["volumes"].([]any)
			spec["volumes"] = append(vols, obj{"name": "host", "hostPath": obj{"path": "/var/log", "type": "Directory"}})
		}
	}
	if g.r.IntN(10) < 3 {
		spec["initContainers"] = []any{g.container(p, comp+"-init", true)}
	}
	containers := []any{g.container(p, comp, false)}
	for k := g.r.IntN(4); k > 0; k-- {
		containers = append(containers, g.container(p, sidecars[g.r.IntN(len(sidecars))], false))
	}
	spec["containers"] = containers
	return spec
}

func (g *generator) image(p profile, name string) string {
	if p == hardened || (p != insecure && g.r.IntN(4) != 0) {
		f := approvedImages[g.r.IntN(len(approvedImages))]
		if strings.Contains(f, "sha256") {
			return fmt.Sprintf(f, name, g.r.IntN(1_000_000))
		}
		return fmt.Sprintf(f, name, g.r.IntN(20))
	}
	return fmt.Sprintf(otherImages[g.r.IntN(len(otherImages))], name, g.r.IntN(20))
}

func (g *generator) container(p profile, name string, init bool) obj {
	c := obj{
		"name":            name,
		"image":           g.image(p, name),
		"imagePullPolicy": "IfNotPresent",
		"env": []any{
			obj{"name": "LOG_LEVEL", "value": "info"},
			obj{"name": "POD_NAME", "valueFrom": obj{"fieldRef": obj{"fieldPath": "metadata.name"}}},
			obj{"name": "DB_PASSWORD", "valueFrom": obj{"secretKeyRef": obj{"name": name + "-db", "key": "password"}}},
		},
		"volumeMounts": []any{
			obj{"name": "config", "mountPath": "/etc/" + name, "readOnly": true},
			obj{"name": "tmp", "mountPath": "/tmp"},
		},
	}
	if init {
		c["command"] = []any{"/bin/migrate", "--to=latest"}
	} else {
		c["ports"] = []any{obj{"name": "http", "containerPort": 8080, "protocol": "TCP"}}
		c["readinessProbe"] = obj{"httpGet": obj{"path": "/healthz", "port": "http"}, "periodSeconds": 10}
		c["livenessProbe"] = obj{"httpGet": obj{"path": "/livez", "port": "http"}, "initialDelaySeconds": 15}
	}
	if p == hardened || g.r.IntN(3) != 0 {
		c["resources"] = obj{
			"requests": obj{"cpu": fmt.Sprintf("%dm", 50+g.r.IntN(450)), "memory": fmt.Sprintf("%dMi", 64+g.r.IntN(448))},
			"limits":   obj{"cpu": fmt.Sprintf("%dm", 500+g.r.IntN(1500)), "memory": fmt.Sprintf("%dMi", 512+g.r.IntN(1536))},
		}
		if p != hardened && g.r.IntN(4) == 0 {
			delete(c["resources"].(obj)["limits"].(obj), "cpu")
		}
	}
	switch p {
	case hardened:
		c["securityContext"] = obj{"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
			"capabilities": obj{"drop": []any{"ALL"}}}
	case baseline:
		sc := obj{"readOnlyRootFilesystem": g.r.IntN(2) == 0}
		if g.r.IntN(2) == 0 {
			sc["allowPrivilegeEscalation"] = false
		}
		if g.r.IntN(3) == 0 {
			sc["capabilities"] = obj{"drop": []any{"ALL"}, "add": []any{"NET_BIND_SERVICE"}}
		}
		c["securityContext"] = sc
	case sloppy:
		sc := obj{"runAsNonRoot": g.r.IntN(3) != 0, "allowPrivilegeEscalation": g.r.IntN(2) == 0}
		switch g.r.IntN(5) {
		case 0:
			sc["capabilities"] = obj{"add": []any{"NET_ADMIN"}}
		case 1:
			c["ports"] = []any{obj{"name": "http", "containerPort": 8080, "hostPort": 8080}}
		case 2:
			sc["seccompProfile"] = obj{"type": "Unconfined"}
		}
		c["securityContext"] = sc
	case insecure:
		sc := obj{"privileged": g.r.IntN(2) == 0, "runAsUser": 0}
		if g.r.IntN(2) == 0 {
			sc["capabilities"] = obj{"add": []any{"SYS_ADMIN", "NET_ADMIN"}}
		}
		c["securityContext"] = sc
	}
	return c
}

// smallPod returns Pod i of the -pods set as a YAML document (with its
// "---" separator): even Pods are debugging shells with host access that
// break most controls, odd ones hardened web servers that pass them all.
func (g *generator) smallPod(i int) string {
	ns := namespaces[g.r.IntN(len(namespaces))]
	if i%2 == 0 {
		return fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata:
  name: debugger-%06d
  namespace: %s
  labels:
    app.kubernetes.io/name: debugger
    team: %s
spec:
  hostNetwork: true
  securityContext:
    runAsUser: 0
  containers:
  - name: shell
    image: docker.io/library/ubuntu:24.04
    command: ["sleep", "infinity"]
    ports:
    - containerPort: 2222
      hostPort: 2222
    securityContext:
      privileged: true
      capabilities:
        add: ["SYS_ADMIN"]
    volumeMounts:
    - name: host-root
      mountPath: /host
  volumes:
  - name: host-root
    hostPath:
      path: /
`, i, ns, ns)
	}
	return fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata:
  name: web-%06d
  namespace: %s
  labels:
    app.kubernetes.io/name: web
    team: %s
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: web
    image: gcr.io/acme-prod/web:1.%d.0
    ports:
    - containerPort: 8080
    resources:
      requests: {cpu: 100m, memory: 128Mi}
      limits: {cpu: 500m, memory: 256Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities:
        drop: ["ALL"]
`, i, ns, ns, g.r.IntN(20))
}
