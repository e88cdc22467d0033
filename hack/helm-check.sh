#!/usr/bin/env bash
# Lints and renders the Helm chart deploy/helm/portcullis and checks the
# rendered manifests. Runnable by CI: bash hack/helm-check.sh
# With --install-only: builds (or finds) helm and prints its path.
#
# Tools are cached outside the repository, in $PORTCULLIS_TOOLS (default
# ~/.cache/portcullis-tools, the cache .ci/run uses):
#   helm-<version>/helm        built with `go install` from the Go module
#                              proxy (a few minutes the first time);
#   helmcheck-<hash>/helmcheck a small checker written below, built in a
#                              scratch module (its own dependencies, not the
#                              project's go.mod).
# The checker decodes the rendered objects strictly (a misplaced field
# fails), validates the CRDs as the API server would, and validates the
# kyverno.io/v1 policies of internal/controls/policies (and of
# ../shared/conformance/kyverno-policies when present) against them.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0     # latest Helm 3; builds with Go >= 1.26.0
HELM_K8S_MINOR=37        # its client-go (v0.37): default Kubernetes version of lint/template
CHART=deploy/helm/portcullis
TOOLS="${PORTCULLIS_TOOLS:-$HOME/.cache/portcullis-tools}"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$TOOLS"

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
die() { printf '\nhelm-check: FAIL: %s\n' "$*" >&2; exit 1; }

# --- helm --------------------------------------------------------------------
HELM="$TOOLS/helm-$HELM_VERSION/helm"
if [ ! -x "$HELM" ]; then
  step "installing helm $HELM_VERSION into $TOOLS (go install)"
  # The ldflags are those of Helm's Makefile: its version, and the
  # Kubernetes version lint and template assume (without them a go-installed
  # helm reports v3.x and assumes Kubernetes v1.20).
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  tmp="$(mktemp -d "$TOOLS/helm-build.XXXXXX")"
  start=$SECONDS
  if ! GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; then
    # go install refuses modules with replace directives; build from a
    # scratch module instead.
    echo "go install failed; building helm from a scratch module"
    (cd "$tmp" && go mod init helmbuild >/dev/null 2>&1 &&
      go get "helm.sh/helm/v3@$HELM_VERSION" &&
      go build -trimpath -ldflags "$ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)
  fi
  mkdir -p "$(dirname "$HELM")"
  mv "$tmp/helm" "$HELM"
  rm -rf "$tmp"
  echo "helm $HELM_VERSION built in $((SECONDS - start))s"
fi
"$HELM" version --short
# --install-only: stop here and print helm's path (hack/test.sh: the e2e
# tests render the chart with it).
if [ "${1:-}" = --install-only ]; then
  echo "$HELM"
  exit 0
fi

# --- checker -------------------------------------------------------------------
checker_src() {
cat <<'EOF'
// helmcheck checks manifests rendered from deploy/helm/portcullis.
// It is written and built by hack/helm-check.sh; see there.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	schemavalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var (
	group         = flag.String("group", "portcullis.dev", "expected policy group")
	crds          = flag.Int("crds", 2, "expected number of CustomResourceDefinitions")
	certManager   = flag.Bool("cert-manager", false, "expect cert-manager resources")
	networkPolicy = flag.Bool("network-policy", true, "expect a NetworkPolicy (ingress to the webhook port)")
	metricsFrom   = flag.Bool("metrics-from", false, "expect the NetworkPolicy to admit the metrics port from some sources")
	clientCA      = flag.String("client-ca", "", "expect --client-ca-file from this ConfigMap")
	secretNS      = flag.Int("secret-namespaces", 0, "expect Secret reads in this many namespaces only (Roles), none cluster-wide")
	policyDirs    = flag.String("policies", "", "comma-separated directories of kyverno.io/v1 policies to validate against the CRD schemas")
	valuesDoc     = flag.String("values-doc", "", "with values.yaml as argument: check that this README documents every value")
	replicas      = flag.Int("replicas", 2, "expected replicas")
	dashboard     = flag.Bool("dashboard", false, "expect the findings dashboard (port 8443, Service port, NetworkPolicy rule, TokenReview/SubjectAccessReview RBAC)")
	store         = flag.String("store", "", "expected findings store: none (empty), postgres (URL from a Secret), sqlite (emptyDir) or sqlite-pvc")
)

type doc struct {
	kind, name string
	raw        []byte
}

var failures []string

func failf(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helmcheck [flags] rendered.yaml")
		os.Exit(2)
	}
	if *valuesDoc != "" {
		checkValuesDoc(flag.Arg(0), *valuesDoc)
		return
	}
	docs, err := readDocs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmcheck:", err)
		os.Exit(2)
	}
	byKind := map[string][]doc{}
	for _, d := range docs {
		byKind[d.kind] = append(byKind[d.kind], d)
	}
	dep := checkDeployment(byKind["Deployment"])
	if dep != nil {
		checkPDB(byKind["PodDisruptionBudget"], dep)
		checkServices(byKind["Service"], dep)
		checkCertManager(byKind, dep)
		checkNetworkPolicy(byKind["NetworkPolicy"], dep)
		checkClientCA(dep)
		checkDashboard(byKind, dep)
		checkStore(byKind, dep)
	}
	checkRBAC(byKind)
	checkCRDs(byKind["CustomResourceDefinition"])
	if len(failures) > 0 {
		fmt.Printf("FAIL %s: %d problem(s)\n", flag.Arg(0), len(failures))
		for _, f := range failures {
			fmt.Println("  -", f)
		}
		os.Exit(1)
	}
	fmt.Printf("ok   %s: %d objects checked\n", flag.Arg(0), len(docs))
}

func readDocs(path string) ([]doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var docs []doc
	for {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if meta.Kind == "" {
			continue // empty document (comments only)
		}
		docs = append(docs, doc{kind: meta.Kind, name: meta.Metadata.Name, raw: b})
	}
}

// decode unmarshals strictly: a misspelled or misplaced field fails.
func decode(d doc, into any) bool {
	if err := yaml.UnmarshalStrict(d.raw, into); err != nil {
		failf("%s %s: %v", d.kind, d.name, err)
		return false
	}
	return true
}

func checkDeployment(ds []doc) *appsv1.Deployment {
	if len(ds) != 1 {
		failf("want 1 Deployment, got %d", len(ds))
		return nil
	}
	var dep appsv1.Deployment
	if !decode(ds[0], &dep) {
		return nil
	}
	if dep.Spec.Replicas == nil || int(*dep.Spec.Replicas) != *replicas {
		failf("Deployment: want replicas %d, got %v", *replicas, ptrString(dep.Spec.Replicas))
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		failf("Deployment: want 1 container, got %d", len(pod.Containers))
		return &dep
	}
	c := pod.Containers[0]
	want := map[corev1.ResourceName]string{corev1.ResourceCPU: "50m", corev1.ResourceMemory: "96Mi"}
	for name, q := range want {
		got, ok := c.Resources.Requests[name]
		if !ok || got.Cmp(resource.MustParse(q)) != 0 {
			failf("container: want requests.%s %s, got %q", name, q, got.String())
		}
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		failf("container: want args to start with serve, got %q", c.Args)
	}
	for _, a := range []string{"--webhook-port=9443", "--metrics-addr=:8080", "--policy-group=" + *group} {
		if !slices.Contains(c.Args, a) {
			failf("container: args lack %s: %q", a, c.Args)
		}
	}
	if port(c, "https") != 9443 {
		failf("container: want port https 9443, got %d", port(c, "https"))
	}
	// Security context: the container's own settings, or the pod's where
	// Kubernetes falls back to them.
	psc := pod.SecurityContext
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if !(isTrue(sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc != nil && isTrue(psc.RunAsNonRoot))) {
		failf("container: runAsNonRoot is not true")
	}
	if psc == nil || !isTrue(psc.RunAsNonRoot) {
		failf("pod: securityContext.runAsNonRoot is not true")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		failf("container: readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		failf("container: allowPrivilegeEscalation is not false")
	}
	if isTrue(sc.Privileged) {
		failf("container: privileged")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		failf("container: capabilities must drop ALL and add none")
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && psc != nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		failf("container: seccompProfile is not RuntimeDefault")
	}
	checkProbe("liveness", c.LivenessProbe, "/healthz", c)
	checkProbe("readiness", c.ReadinessProbe, "/readyz", c)
	aa := pod.Affinity
	ok := false
	if aa != nil && aa.PodAntiAffinity != nil {
		for _, t := range aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if t.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" && selects(t.PodAffinityTerm.LabelSelector.MatchLabels, dep.Spec.Template.Labels) {
				ok = true
			}
		}
	}
	if !ok {
		failf("pod: no preferred anti-affinity by kubernetes.io/hostname selecting its own pods")
	}
	if len(pod.TopologySpreadConstraints) == 0 {
		failf("pod: no topologySpreadConstraints")
	}
	if !selects(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		failf("Deployment: selector does not select its pod template")
	}
	return &dep
}

func checkProbe(what string, p *corev1.Probe, path string, c corev1.Container) {
	if p == nil || p.HTTPGet == nil {
		failf("container: no HTTP %s probe", what)
		return
	}
	if p.HTTPGet.Path != path {
		failf("container: %s probe path %q, want %s", what, p.HTTPGet.Path, path)
	}
	if resolve(p.HTTPGet.Port, c) != 8080 {
		failf("container: %s probe port %s is not the metrics port 8080", what, p.HTTPGet.Port.String())
	}
}

func checkPDB(ds []doc, dep *appsv1.Deployment) {
	if len(ds) != 1 {
		failf("want 1 PodDisruptionBudget, got %d", len(ds))
		return
	}
	var pdb policyv1.PodDisruptionBudget
	if !decode(ds[0], &pdb) {
		return
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "1" {
		failf("PodDisruptionBudget: want minAvailable 1")
	}
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		failf("PodDisruptionBudget: selector does not select the Deployment's pods")
	}
}

func checkServices(ds []doc, dep *appsv1.Deployment) {
	c := dep.Spec.Template.Spec.Containers[0]
	webhook := false
	for _, d := range ds {
		var svc corev1.Service
		if !decode(d, &svc) {
			continue
		}
		if !selects(svc.Spec.Selector, dep.Spec.Template.Labels) {
			failf("Service %s: selector does not select the Deployment's pods", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == 443 && resolve(p.TargetPort, c) == 9443 && svc.Name == dep.Name {
				webhook = true
			}
		}
	}
	if !webhook {
		failf("no webhook Service named %s mapping port 443 to the container's 9443", dep.Name)
	}
}

// checkCertManager checks where the serving certificate comes from: a
// Secret Portcullis writes itself (--tls-secret), or, with cert-manager, a
// Certificate's Secret mounted into the container (--tls-cert-file etc.).
func checkCertManager(byKind map[string][]doc, dep *appsv1.Deployment) {
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	arg := func(name string) string {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	certs := byKind["Certificate"]
	if !*certManager {
		if arg("tls-secret") == "" {
			failf("container: no --tls-secret argument for the self-generated certificate")
		}
		if n := len(certs) + len(byKind["Issuer"]); n > 0 {
			failf("cert-manager disabled but %d Certificate/Issuer objects rendered", n)
		}
		return
	}
	if arg("tls-secret") != "" {
		failf("container: --tls-secret although cert-manager issues the certificate")
	}
	// The Secret mounted where --tls-cert-file, --tls-key-file and
	// --tls-ca-file point.
	secret := ""
	for _, flagName := range []string{"tls-cert-file", "tls-key-file", "tls-ca-file"} {
		file := arg(flagName)
		if file == "" {
			failf("container: no --%s argument", flagName)
			continue
		}
		var mount *corev1.VolumeMount
		for i, m := range c.VolumeMounts {
			if filepath.Dir(file) == filepath.Clean(m.MountPath) {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil {
			failf("container: --%s=%s is in no mounted volume", flagName, file)
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == mount.Name && v.Secret != nil {
				secret = v.Secret.SecretName
			}
		}
	}
	if secret == "" {
		failf("container: the certificate files do not come from a mounted Secret")
		return
	}
	found := false
	for _, d := range certs {
		var cert struct {
			Spec struct {
				SecretName string   `json:"secretName"`
				DNSNames   []string `json:"dnsNames"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(d.raw, &cert); err != nil {
			failf("Certificate %s: %v", d.name, err)
			continue
		}
		if cert.Spec.SecretName == secret {
			found = true
			svcName := dep.Name + "." + dep.Namespace + ".svc"
			if !slices.Contains(cert.Spec.DNSNames, svcName) {
				failf("Certificate %s: dnsNames lack %s", d.name, svcName)
			}
		}
	}
	if !found {
		failf("cert-manager enabled but no Certificate writes the mounted Secret %q", secret)
	}
}

// checkNetworkPolicy: with -network-policy, one NetworkPolicy selects the
// pods and admits ingress to the webhook port and (with -metrics-from) the
// metrics port only; without it, none.
func checkNetworkPolicy(ds []doc, dep *appsv1.Deployment) {
	if !*networkPolicy {
		if len(ds) != 0 {
			failf("NetworkPolicy rendered although disabled")
		}
		return
	}
	if len(ds) != 1 {
		failf("want 1 NetworkPolicy, got %d", len(ds))
		return
	}
	var np networkingv1.NetworkPolicy
	if !decode(ds[0], &np) {
		return
	}
	if !selects(np.Spec.PodSelector.MatchLabels, dep.Spec.Template.Labels) || len(np.Spec.PodSelector.MatchExpressions) > 0 {
		failf("NetworkPolicy %s does not select the pods", np.Name)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		failf("NetworkPolicy %s: policyTypes %v, want [Ingress]", np.Name, np.Spec.PolicyTypes)
	}
	ports := map[string]int32{}
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		ports[p.Name] = p.ContainerPort
	}
	var allowed []int32
	for i, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			failf("NetworkPolicy %s ingress %d: no ports (admits every port)", np.Name, i)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || p.EndPort != nil {
				failf("NetworkPolicy %s ingress %d: a port range", np.Name, i)
				continue
			}
			allowed = append(allowed, p.Port.IntVal)
			if p.Port.IntVal == ports["http-metrics"] && len(rule.From) == 0 {
				failf("NetworkPolicy %s: the metrics port is open to every source", np.Name)
			}
		}
	}
	want := []int32{ports["https"]}
	if *dashboard {
		want = append(want, ports["dashboard"])
	}
	if *metricsFrom {
		want = append(want, ports["http-metrics"])
	}
	if !slices.Equal(allowed, want) {
		failf("NetworkPolicy %s admits ports %v, want %v", np.Name, allowed, want)
	}
}

// checkClientCA: with -client-ca the container requires client
// certificates of the CA mounted from that ConfigMap; without, it does not.
func checkClientCA(dep *appsv1.Deployment) {
	c := dep.Spec.Template.Spec.Containers[0]
	arg := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--client-ca-file="); ok {
			arg = v
		}
	}
	if *clientCA == "" {
		if arg != "" {
			failf("Deployment: --client-ca-file=%s without webhook.clientCA", arg)
		}
		return
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(arg, m.MountPath+"/") {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				mounted = mounted || (v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == *clientCA)
			}
		}
	}
	if arg == "" || !mounted {
		failf("Deployment: --client-ca-file %q is not a file of the ConfigMap %s", arg, *clientCA)
	}
}

// checkDashboard: with -dashboard the container serves the dashboard on
// 8443, the webhook Service and the NetworkPolicy admit it and the
// ClusterRole may create TokenReviews and SubjectAccessReviews; without,
// none of that.
func checkDashboard(byKind map[string][]doc, dep *appsv1.Deployment) {
	c := dep.Spec.Template.Spec.Containers[0]
	arg := slices.Contains(c.Args, "--dashboard-addr=:8443")
	var rules []rbacv1.PolicyRule
	for _, d := range byKind["ClusterRole"] {
		var r rbacv1.ClusterRole
		if decode(d, &r) {
			rules = append(rules, r.Rules...)
		}
	}
	reviews := allows(rules, "authentication.k8s.io", "tokenreviews", "create") && allows(rules, "authorization.k8s.io", "subjectaccessreviews", "create")
	anyReview := allows(rules, "authentication.k8s.io", "tokenreviews", "create") || allows(rules, "authorization.k8s.io", "subjectaccessreviews", "create")
	service := false
	for _, d := range byKind["Service"] {
		var svc corev1.Service
		if decode(d, &svc) && svc.Name == dep.Name {
			for _, p := range svc.Spec.Ports {
				service = service || resolve(p.TargetPort, c) == 8443
			}
		}
	}
	netpol := false
	for _, d := range byKind["NetworkPolicy"] {
		var np networkingv1.NetworkPolicy
		if !decode(d, &np) {
			continue
		}
		for _, in := range np.Spec.Ingress {
			for _, p := range in.Ports {
				netpol = netpol || (p.Port != nil && resolve(*p.Port, c) == 8443)
			}
		}
	}
	if !*dashboard {
		if arg || port(c, "dashboard") != 0 || service || netpol || anyReview {
			failf("dashboard off, but rendered: argument %v, container port %d, Service port %v, NetworkPolicy rule %v, review RBAC %v",
				arg, port(c, "dashboard"), service, netpol, anyReview)
		}
		return
	}
	if !arg || port(c, "dashboard") != 8443 {
		failf("container: want --dashboard-addr=:8443 and port dashboard 8443, got %q, port %d", c.Args, port(c, "dashboard"))
	}
	if !service {
		failf("Service %s: no port to the dashboard's 8443", dep.Name)
	}
	if *networkPolicy && !netpol {
		failf("NetworkPolicy: the dashboard port 8443 is not admitted")
	}
	if !reviews {
		failf("ClusterRole: the dashboard cannot create tokenreviews and subjectaccessreviews")
	}
}

// checkStore: where the findings store is. postgres: the URL only in the
// environment, from a Secret, never in the arguments; sqlite: --data-dir
// on a mounted emptyDir, or (sqlite-pvc) the chart's PersistentVolumeClaim.
func checkStore(byKind map[string][]doc, dep *appsv1.Deployment) {
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	dataDir := ""
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--store") || strings.Contains(a, "postgres://") {
			failf("container: the store URL is an argument (%q): it must come from a Secret", a)
		}
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			dataDir = v
		}
	}
	var env *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "PORTCULLIS_STORE" {
			env = &c.Env[i]
		}
	}
	var volume *corev1.Volume
	for _, m := range c.VolumeMounts {
		if dataDir != "" && filepath.Clean(m.MountPath) == filepath.Clean(dataDir) {
			for i, v := range pod.Volumes {
				if v.Name == m.Name {
					volume = &pod.Volumes[i]
				}
			}
		}
	}
	pvcs := len(byKind["PersistentVolumeClaim"])
	switch *store {
	case "":
		if dataDir != "" || env != nil || pvcs > 0 {
			failf("store off, but --data-dir %q, env %v, %d PersistentVolumeClaims", dataDir, env != nil, pvcs)
		}
	case "postgres":
		if env == nil || env.Value != "" || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
			failf("container: PORTCULLIS_STORE does not come from a Secret: %+v", env)
		}
		if dataDir != "" || pvcs > 0 {
			failf("PostgreSQL store, but --data-dir %q and %d PersistentVolumeClaims", dataDir, pvcs)
		}
	case "sqlite", "sqlite-pvc":
		if env != nil {
			failf("SQLite store, but PORTCULLIS_STORE is set")
		}
		if volume == nil {
			failf("container: --data-dir %q is no mounted volume", dataDir)
			return
		}
		if *store == "sqlite" && (volume.EmptyDir == nil || pvcs > 0) {
			failf("volume %s: want an emptyDir and no PersistentVolumeClaim", volume.Name)
		}
		if *store == "sqlite-pvc" {
			if volume.PersistentVolumeClaim == nil || pvcs != 1 || byKind["PersistentVolumeClaim"][0].name != volume.PersistentVolumeClaim.ClaimName {
				failf("volume %s: want the chart's PersistentVolumeClaim", volume.Name)
			}
			var pvc corev1.PersistentVolumeClaim // decoded strictly
			if pvcs == 1 && decode(byKind["PersistentVolumeClaim"][0], &pvc) && len(pvc.Spec.AccessModes) == 0 {
				failf("PersistentVolumeClaim %s: no access modes", pvc.Name)
			}
		}
	default:
		failf("-store %q: want postgres, sqlite or sqlite-pvc", *store)
	}
}

// checkSecretRole: a Role of imagePolicies.secretNamespaces grants get on
// Secrets and ServiceAccounts, nothing else.
func checkSecretRole(d doc) {
	var r rbacv1.Role
	if !decode(d, &r) {
		return
	}
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts"}, Verbs: []string{"get"}}}
	if len(r.Rules) != 1 || !slices.Equal(r.Rules[0].Verbs, want[0].Verbs) || !slices.Equal(r.Rules[0].Resources, want[0].Resources) ||
		!slices.Equal(r.Rules[0].APIGroups, want[0].APIGroups) || len(r.Rules[0].ResourceNames) > 0 {
		failf("Role %s/%s: rules %+v, want get on secrets and serviceaccounts only", r.Namespace, r.Name, r.Rules)
	}
}

func checkRBAC(byKind map[string][]doc) {
	var clusterRules []rbacv1.PolicyRule
	for _, kind := range []string{"ClusterRole", "Role"} {
		var docs []doc
		for _, d := range byKind[kind] {
			if strings.HasSuffix(d.name, "-secrets") && kind == "Role" {
				checkSecretRole(d)
				continue
			}
			docs = append(docs, d)
		}
		if len(docs) != 1 {
			failf("want 1 %s, got %d", kind, len(docs))
		}
		for _, d := range docs {
			var rules []rbacv1.PolicyRule
			if kind == "ClusterRole" {
				var r rbacv1.ClusterRole
				if !decode(d, &r) {
					continue
				}
				if r.AggregationRule != nil {
					failf("ClusterRole %s: aggregationRule", r.Name)
				}
				rules = r.Rules
				clusterRules = r.Rules
			} else {
				var r rbacv1.Role
				if !decode(d, &r) {
					continue
				}
				rules = r.Rules
				if *certManager {
					// Only the verification cache's key Secret, by name
					// (get, update), and create (which resourceNames
					// cannot restrict).
					keyOnly := func(r rbacv1.PolicyRule) bool {
						if !slices.Contains(r.Resources, "secrets") {
							return true
						}
						if len(r.ResourceNames) == 0 {
							return slices.Equal(r.Verbs, []string{"create"})
						}
						return len(r.ResourceNames) == 1 && strings.HasSuffix(r.ResourceNames[0], "-verification-key") &&
							!slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "update" })
					}
					for _, rule := range rules {
						if !keyOnly(rule) {
							failf("Role %s: Secret access beyond the verification key Secret although the certificate is mounted: %v", r.Name, rule)
						}
					}
				} else {
					// The leader creates and rotates the Secret; every
					// replica watches it (by name).
					for _, verb := range []string{"get", "list", "watch", "create", "update"} {
						if !allows(rules, "", "secrets", verb) {
							failf("Role %s: cannot %s the certificate Secret", r.Name, verb)
						}
					}
				}
				// The Lease lock reads, creates and updates its Lease.
				for _, verb := range []string{"get", "create", "update"} {
					if !allows(rules, "coordination.k8s.io", "leases", verb) {
						failf("Role %s: cannot %s its leader-election Lease", r.Name, verb)
					}
				}
			}
			for i, rule := range rules {
				for field, vals := range map[string][]string{"verbs": rule.Verbs, "resources": rule.Resources, "apiGroups": rule.APIGroups, "resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs} {
					for _, v := range vals {
						if strings.Contains(v, "*") {
							failf("%s %s rule %d: wildcard %q in %s", kind, d.name, i, v, field)
						}
					}
				}
				if len(rule.ResourceNames) > 0 && slices.Contains(rule.Verbs, "create") {
					failf("%s %s rule %d: create with resourceNames never matches", kind, d.name, i)
				}
				// The background controller deletes the PolicyReports it
				// no longer needs, and the generate controller the
				// synchronized objects it generated (generate.resources,
				// whose rules carry exactly its verbs); nothing else may
				// delete.
				reports := slices.Equal(rule.APIGroups, []string{"wgpolicyk8s.io"})
				generated := slices.Equal(rule.Verbs, []string{"get", "list", "watch", "create", "patch", "delete"})
				if slices.ContainsFunc(rule.Verbs, func(v string) bool {
					return (v == "delete" && !reports && !generated) || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate"
				}) {
					failf("%s %s rule %d: unneeded powerful verb in %q", kind, d.name, i, rule.Verbs)
				}
				// Cluster-wide, Secrets may only be read one by one (pull
				// secrets and key Secrets of image verification): never
				// listed, watched or written.
				if slices.Contains(rule.Resources, "secrets") && kind == "ClusterRole" && !slices.Equal(rule.Verbs, []string{"get"}) {
					failf("ClusterRole %s: cluster-wide Secrets access must be get only, got %q", d.name, rule.Verbs)
				}
			}
		}
	}
	for _, need := range []struct{ group, resource, verb string }{
		{*group, "clusterpolicies", "watch"}, {*group, "policies", "watch"},
		{"", "namespaces", "get"}, {"events.k8s.io", "events", "create"},
		{"admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"},
		{"admissionregistration.k8s.io", "validatingwebhookconfigurations", "update"},
	} {
		if !allows(clusterRules, need.group, need.resource, need.verb) {
			failf("ClusterRole: cannot %s %s.%s", need.verb, need.resource, need.group)
		}
	}
	// Grants serve does not use (TestChartRBAC checks the used ones
	// against a real API server).
	for _, unused := range []struct{ group, resource, verb string }{
		{*group, "clusterpolicies", "get"}, {"policy.sigstore.dev", "clusterimagepolicies", "get"},
		{"admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch"},
		{"admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch"},
		{"", "events", "create"}, {"", "secrets", "list"}, {"", "serviceaccounts", "list"},
	} {
		if allows(clusterRules, unused.group, unused.resource, unused.verb) {
			failf("ClusterRole: grants %s %s.%s, which serve never uses", unused.verb, unused.resource, unused.group)
		}
	}
	if *secretNS > 0 {
		if allows(clusterRules, "", "secrets", "get") {
			failf("ClusterRole: Secrets readable cluster-wide although imagePolicies.secretNamespaces is set")
		}
		if n := len(byKind["Role"]) - 1; n != *secretNS {
			failf("want Secret-reading Roles in %d namespaces, got %d", *secretNS, n)
		}
	}
	for _, rule := range clusterRules {
		for _, r := range rule.Resources {
			if strings.HasSuffix(r, "webhookconfigurations") {
				for _, v := range rule.Verbs {
					if v != "create" && len(rule.ResourceNames) == 0 {
						failf("ClusterRole: %s on %s is not restricted by resourceNames", v, r)
					}
				}
			}
		}
	}
}

func allows(rules []rbacv1.PolicyRule, group, res, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func checkCRDs(ds []doc) {
	if len(ds) != *crds {
		failf("want %d CustomResourceDefinitions, got %d", *crds, len(ds))
	}
	schemas := map[string]*apiextensions.JSONSchemaProps{} // by kind
	for _, d := range ds {
		var v1crd apiextv1.CustomResourceDefinition
		if !decode(d, &v1crd) {
			continue
		}
		sigstore := v1crd.Spec.Group == "policy.sigstore.dev"
		if sigstore && v1crd.Spec.Names.Kind != "ClusterImagePolicy" {
			failf("CRD %s: unexpected sigstore kind %s", v1crd.Name, v1crd.Spec.Names.Kind)
		}
		// Kyverno's CEL policy kinds (celPolicies.installCRDs): free-form
		// schemas, not checked against the kyverno.io/v1 policies.
		cel := v1crd.Spec.Group == "policies.kyverno.io"
		if cel && !slices.Contains([]string{"ValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "PolicyException"}, v1crd.Spec.Names.Kind) {
			failf("CRD %s: unexpected policies.kyverno.io kind %s", v1crd.Name, v1crd.Spec.Names.Kind)
		}
		if v1crd.Spec.Group != *group && !sigstore && !cel {
			failf("CRD %s: group %s, want %s", v1crd.Name, v1crd.Spec.Group, *group)
		}
		apiextv1.SetObjectDefaults_CustomResourceDefinition(&v1crd)
		var crd apiextensions.CustomResourceDefinition
		if err := apiextv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1crd, &crd, nil); err != nil {
			failf("CRD %s: %v", v1crd.Name, err)
			continue
		}
		for _, v := range crd.Spec.Versions { // as the API server sets it
			if v.Storage {
				crd.Status.StoredVersions = []string{v.Name}
			}
		}
		if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
			for _, e := range errs {
				failf("CRD %s: the API server would refuse it: %v", v1crd.Name, e)
			}
			continue
		}
		// The internal form keeps a schema shared by all versions at the top.
		if crd.Spec.Validation != nil {
			schemas[crd.Spec.Names.Kind] = crd.Spec.Validation.OpenAPIV3Schema
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1" && v.Schema != nil {
				schemas[crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
			}
		}
		if sigstore || cel {
			delete(schemas, crd.Spec.Names.Kind)
			continue
		}
		if schemas[crd.Spec.Names.Kind] == nil {
			failf("CRD %s: no v1 schema", v1crd.Name)
		}
	}
	if *policyDirs == "" || len(schemas) == 0 {
		return
	}
	checked := 0
	for _, dir := range strings.Split(*policyDirs, ",") {
		checked += checkPolicies(dir, schemas)
	}
	if checked == 0 {
		failf("no policies found in %s", *policyDirs)
	}
	fmt.Printf("     %d kyverno.io/v1 policies from %s checked against the %s CRD schemas\n", checked, *policyDirs, *group)
}

// checkPolicies validates every kyverno.io/v1 ClusterPolicy and Policy
// under dir, with its apiVersion changed to the chart's group, against the
// CRD schema and checks that pruning would not drop any field.
func checkPolicies(dir string, schemas map[string]*apiextensions.JSONSchemaProps) int {
	type compiled struct {
		validator  schemavalidation.SchemaValidator
		structural *structuralschema.Structural
	}
	cs := map[string]compiled{}
	for kind, s := range schemas {
		v, _, err := schemavalidation.NewSchemaValidator(s)
		if err != nil {
			failf("schema of %s: %v", kind, err)
			return 0
		}
		st, err := structuralschema.NewStructural(s)
		if err != nil {
			failf("schema of %s: %v", kind, err)
			return 0
		}
		cs[kind] = compiled{v, st}
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && path != dir {
			return filepath.SkipDir // test fixtures (e.g. .chainsaw-test asserts), not policies
		}
		if e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := utilyaml.NewYAMLReader(bufioReader(data))
		for {
			b, err := r.Read()
			if err != nil {
				return nil // EOF, or not YAML we care about
			}
			var obj map[string]any
			if yaml.Unmarshal(b, &obj) != nil || obj == nil {
				continue
			}
			kind, _ := obj["kind"].(string)
			c, ok := cs[kind]
			if !ok || obj["apiVersion"] != "kyverno.io/v1" {
				continue
			}
			obj["apiVersion"] = *group + "/v1"
			n++
			name := fmt.Sprintf("%s (%s)", path, kind)
			if errs := schemavalidation.ValidateCustomResource(nil, obj, c.validator); len(errs) > 0 {
				failf("%s: refused by the CRD schema: %v", name, errs.ToAggregate())
			}
			if pruned := pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(pruned) > 0 {
				failf("%s: the API server would drop %q", name, pruned)
			}
		}
	})
	if err != nil {
		failf("%s: %v", dir, err)
	}
	return n
}

func port(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func resolve(p intstr.IntOrString, c corev1.Container) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	return port(c, p.StrVal)
}

// selects reports whether the selector labels (non-empty) all appear in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// checkValuesDoc fails unless the README names every value of values.yaml
// as `path` (a value documented as a whole object covers its children).
func checkValuesDoc(valuesPath, readmePath string) {
	vb, err := os.ReadFile(valuesPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmcheck:", err)
		os.Exit(2)
	}
	rb, err := os.ReadFile(readmePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmcheck:", err)
		os.Exit(2)
	}
	var values map[string]any
	if err := yaml.Unmarshal(vb, &values); err != nil {
		fmt.Fprintln(os.Stderr, "helmcheck:", err)
		os.Exit(2)
	}
	readme := string(rb)
	var missing []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			if strings.Contains(readme, "`"+path+"`") {
				continue
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(path+".", sub)
				continue
			}
			missing = append(missing, path)
		}
	}
	walk("", values)
	if len(missing) > 0 {
		slices.Sort(missing)
		fmt.Printf("FAIL %s does not document these values of %s: %s\n", readmePath, valuesPath, strings.Join(missing, ", "))
		os.Exit(1)
	}
	fmt.Printf("ok   %s documents every value of %s\n", readmePath, valuesPath)
}
EOF
}
checker_mod() {
cat <<'EOF'
module helmcheck

go 1.26

require (
	k8s.io/api v0.37.0
	k8s.io/apiextensions-apiserver v0.37.0
	k8s.io/apimachinery v0.37.0
	sigs.k8s.io/yaml v1.6.0
)
EOF
}
hash="$( { checker_src; checker_mod; go env GOVERSION; } | sha256sum | cut -c1-16)"
CHECK="$TOOLS/helmcheck-$hash/helmcheck"
if [ ! -x "$CHECK" ]; then
  step "building the rendered-manifest checker"
  tmp="$(mktemp -d "$TOOLS/tmp-helmcheck.XXXXXX")"
  checker_src > "$tmp/main.go"
  checker_mod > "$tmp/go.mod"
  (cd "$tmp" && go mod tidy && go build -o helmcheck .)
  rm -rf "$TOOLS"/helmcheck-[0-9a-f]*  # builds of older checker sources
  mkdir -p "$(dirname "$CHECK")"
  mv "$tmp/helmcheck" "$CHECK"
  rm -rf "$tmp"
fi

# --- lint, render, check ---------------------------------------------------------
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
NS=portcullis-system
POLICIES=internal/controls/policies
if [ -d ../shared/conformance/kyverno-policies ]; then
  POLICIES="$POLICIES,../shared/conformance/kyverno-policies"
fi

# name | helm --set flags | checker flags
CASES=(
  "default||-group=portcullis.dev -crds=3 -policies=$POLICIES"
  "cert-manager|--set certManager.enabled=true|-group=portcullis.dev -crds=3 -cert-manager"
  "kyverno-group|--set policyGroup=kyverno.io|-group=kyverno.io -crds=4 -policies=$POLICIES"
  "kyverno-group-cert-manager|--set policyGroup=kyverno.io --set certManager.enabled=true|-group=kyverno.io -crds=4 -cert-manager"
  "kyverno-exceptions|--set policyGroup=kyverno.io --set exceptions.namespaces={policy-exceptions}|-group=kyverno.io -crds=4"
  "kyverno-present|--set policyGroup=kyverno.io --set kyverno.present=true|-group=kyverno.io -crds=1"
  "no-crds|--set crds.install=false|-group=portcullis.dev -crds=0"
  "cel-crds|--set celPolicies.installCRDs=true|-group=portcullis.dev -crds=7"
  "cel-crds-kyverno-present|--set celPolicies.installCRDs=true --set kyverno.present=true|-group=portcullis.dev -crds=3"
  "no-cel-policies|--set celPolicies.enabled=false --set celPolicies.installCRDs=true|-group=portcullis.dev -crds=3"
  "no-image-policies|--set imagePolicies.enabled=false --set webhook.mutating=false|-group=portcullis.dev -crds=2"
  "policy-controller-present|--set imagePolicies.installCRD=false|-group=portcullis.dev -crds=2"
  "minimum-kubernetes|--kube-version=v1.27.0|-group=portcullis.dev -crds=3"
  "no-network-policy|--set networkPolicy.enabled=false|-group=portcullis.dev -crds=3 -network-policy=false"
  "secret-namespaces|--set imagePolicies.secretNamespaces={shop,portcullis-system}|-group=portcullis.dev -crds=3 -secret-namespaces=2"
  "metrics-from-client-ca|--set networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring --set webhook.clientCA.configMap=apiserver-ca|-group=portcullis.dev -crds=3 -metrics-from -client-ca=apiserver-ca"
  "dashboard-postgres|--set dashboard.enabled=true --set store.existingSecret=findings-db|-group=portcullis.dev -crds=3 -dashboard -store=postgres"
  "dashboard-sqlite|--set dashboard.enabled=true --set replicaCount=1 --set networkPolicy.dashboardFrom[0].namespaceSelector.matchLabels.name=ops|-group=portcullis.dev -crds=3 -dashboard -store=sqlite -replicas=1"
  "dashboard-sqlite-pvc|--set dashboard.enabled=true --set replicaCount=1 --set store.persistence.enabled=true --set store.retention=720h|-group=portcullis.dev -crds=3 -dashboard -store=sqlite-pvc -replicas=1"
  "store-only-postgres|--set store.enabled=true --set store.existingSecret=findings-db|-group=portcullis.dev -crds=3 -store=postgres"
)

step "helm lint --strict"
for c in "${CASES[@]}"; do
  IFS='|' read -r name sets _ <<<"$c"
  # shellcheck disable=SC2086 # $sets is a list of flags
  "$HELM" lint --strict --quiet "$CHART" --namespace "$NS" $sets >"$OUT/lint-$name.txt" 2>&1 ||
    { cat "$OUT/lint-$name.txt"; die "helm lint --strict ($name: $sets)"; }
  echo "ok   lint $name"
done

step "helm template and checks"
for c in "${CASES[@]}"; do
  IFS='|' read -r name sets checks <<<"$c"
  # shellcheck disable=SC2086
  "$HELM" template portcullis "$CHART" --namespace "$NS" $sets >"$OUT/$name.yaml" ||
    die "helm template ($name: $sets)"
  # shellcheck disable=SC2086
  "$CHECK" $checks "$OUT/$name.yaml" || die "rendered manifests ($name: ${sets:-default values})"
done

step "plain-text assertions on the default render"
d="$OUT/default.yaml"
expect() { grep -Eq -- "$2" "$d" || die "default render: $1 (no line matching /$2/)"; }
expect "2 replicas" '^  replicas: 2$'
expect "a PodDisruptionBudget" '^kind: PodDisruptionBudget$'
expect "minAvailable 1" '^  minAvailable: 1$'
expect "cpu request 50m" '^ +cpu: 50m$'
expect "memory request 96Mi" '^ +memory: 96Mi$'
expect "runAsNonRoot" '^ +runAsNonRoot: true$'
expect "the webhook Service on 443" '^ +port: 443$'
expect "serve arguments" '^ +- --webhook-port=9443$'
expect "leader election on" '^ +- --leader-elect=true$'
expect "the Lease in the release namespace" '^ +- --leader-election-namespace=\$\(POD_NAMESPACE\)$'
if awk '/^kind: (Cluster)?Role$/{r=1;next} /^---/{r=0} r' "$d" | grep -Eq "(verbs|resources|apiGroups|resourceNames):.*[\"'\[ ,]\*"; then
  die "default render: wildcard in RBAC rules"
fi
echo "ok   grep assertions"

step "negative cases: values the chart must refuse"
for c in \
  "policyGroup=example.com|policyGroup must be portcullis.dev or kyverno.io" \
  "webhook.failurePolicy=Maybe|webhook.failurePolicy must be Fail or Ignore" \
  "webhook.timeoutSeconds=31|webhook.timeoutSeconds must be between 1 and 30" \
  "logLevel=trace|logLevel must be" \
  "image.digest=latest|image.digest must start with sha256:" \
  "dashboard.enabled=true|the SQLite findings store (store.dataDir) is one pod's file" \
  "store.enabled=true|set replicaCount=1 or use PostgreSQL"; do
  IFS='|' read -r set msg <<<"$c"
  if "$HELM" template portcullis "$CHART" --set "$set" >"$OUT/bad.txt" 2>&1; then
    die "--set $set rendered; it must fail"
  fi
  grep -qF "$msg" "$OUT/bad.txt" || { cat "$OUT/bad.txt"; die "--set $set: want the error '$msg'"; }
  echo "ok   --set $set is refused"
done

step "README documents every value"
"$CHECK" -values-doc "$CHART/README.md" "$CHART/values.yaml" || die "README values table"

echo
echo "helm-check: all checks passed"
