package pss

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/testing/corpus"
	"sigs.k8s.io/yaml"
)

func parseYAML(t testing.TB, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return m
}

// pod wraps a pod spec (YAML, indented by 2) into a Pod manifest.
func pod(spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n" + spec
}

// restrictedSC is a container securityContext that satisfies the restricted level.
const restrictedSC = `
    securityContext:
      allowPrivilegeEscalation: false
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
      capabilities: {drop: [ALL]}`

func mustCompile(t testing.TB, s Spec) *Checker {
	t.Helper()
	c, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", s, err)
	}
	return c
}

func evaluate(t testing.TB, s Spec, doc string) Result {
	t.Helper()
	res, err := mustCompile(t, s).Evaluate(parseYAML(t, doc))
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return res
}

func checkIDs(r Result) []string {
	var ids []string
	for _, f := range r.Failures {
		ids = append(ids, f.CheckID)
	}
	return ids
}

func allFields(r Result) []string {
	var out []string
	for _, f := range r.Failures {
		out = append(out, f.Fields...)
	}
	return out
}

type evalCase struct {
	name       string
	level      string
	version    string
	exclude    []Exclusion
	doc        string
	allowed    bool
	checks     []string
	fields     []string
	controlFor map[string]string // optional: check ID -> expected control name
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			level := tc.level
			if level == "" {
				level = "baseline"
			}
			res := evaluate(t, Spec{Level: level, Version: tc.version, Exclude: tc.exclude}, tc.doc)
			if res.Allowed != tc.allowed {
				t.Errorf("Allowed = %v, want %v (failures %+v)", res.Allowed, tc.allowed, res.Failures)
			}
			if got := checkIDs(res); !reflect.DeepEqual(got, tc.checks) {
				t.Errorf("failed checks = %q, want %q", got, tc.checks)
			}
			if got := allFields(res); !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields = %q, want %q", got, tc.fields)
			}
			for _, f := range res.Failures {
				if want, ok := tc.controlFor[f.CheckID]; ok && f.ControlName != want {
					t.Errorf("control of %s = %q, want %q", f.CheckID, f.ControlName, want)
				}
			}
		})
	}
}

func TestControls(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{
			name:       "privileged container",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {privileged: true}\n"),
			checks:     []string{"privileged"},
			fields:     []string{"spec.containers[0].securityContext.privileged"},
			controlFor: map[string]string{"privileged": "Privileged Containers"},
		},
		{
			name:   "privileged init container",
			doc:    pod("  initContainers:\n  - name: i\n    image: busybox\n    securityContext: {privileged: true}\n  containers:\n  - name: a\n    image: nginx\n"),
			checks: []string{"privileged"},
			fields: []string{"spec.initContainers[0].securityContext.privileged"},
		},
		{
			name:    "privileged false is allowed",
			doc:     pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {privileged: false}\n"),
			allowed: true,
		},
		{
			name:       "host namespaces",
			doc:        pod("  hostNetwork: true\n  hostPID: true\n  hostIPC: false\n  containers:\n  - name: a\n    image: nginx\n"),
			checks:     []string{"hostNamespaces"},
			fields:     []string{"spec.hostNetwork", "spec.hostPID"},
			controlFor: map[string]string{"hostNamespaces": "Host Namespaces"},
		},
		{
			name:       "host ports",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    ports:\n    - containerPort: 80\n    - containerPort: 81\n      hostPort: 8080\n"),
			checks:     []string{"hostPorts"},
			fields:     []string{"spec.containers[0].ports[1].hostPort"},
			controlFor: map[string]string{"hostPorts": "Host Ports"},
		},
		{
			name:       "hostPath volume at baseline",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n  volumes:\n  - name: v\n    hostPath: {path: /etc}\n"),
			checks:     []string{"hostPathVolumes"},
			fields:     []string{"spec.volumes[0].hostPath"},
			controlFor: map[string]string{"hostPathVolumes": "HostPath Volumes"},
		},
		{
			name:   "hostPath volume at restricted reports both checks (no override)",
			level:  "restricted",
			doc:    pod("  containers:\n  - name: a\n    image: nginx" + restrictedSC + "\n  volumes:\n  - name: v\n    hostPath: {path: /etc}\n"),
			checks: []string{"hostPathVolumes", "restrictedVolumes"},
			fields: []string{"spec.volumes[0].hostPath", "spec.volumes[0].hostPath"},
		},
		{
			name:       "capabilities baseline non-default add",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      capabilities: {add: [CHOWN, NET_ADMIN]}\n"),
			checks:     []string{"capabilities_baseline"},
			fields:     []string{"spec.containers[0].securityContext.capabilities.add"},
			controlFor: map[string]string{"capabilities_baseline": "Capabilities"},
		},
		{
			name:    "capabilities baseline default add allowed",
			doc:     pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      capabilities: {add: [CHOWN, KILL]}\n"),
			allowed: true,
		},
		{
			name:   "capabilities restricted missing drop ALL",
			level:  "restricted",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n      runAsNonRoot: true\n      seccompProfile: {type: RuntimeDefault}\n"),
			checks: []string{"capabilities_restricted"},
			fields: []string{"spec.containers[0].securityContext.capabilities.drop"},
		},
		{
			name:   "capabilities restricted add beyond NET_BIND_SERVICE",
			level:  "restricted",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n      runAsNonRoot: true\n      seccompProfile: {type: RuntimeDefault}\n      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CHOWN]}\n"),
			checks: []string{"capabilities_restricted"},
			fields: []string{"spec.containers[0].securityContext.capabilities.add"},
		},
		{
			name:       "runAsNonRoot explicitly false",
			level:      "restricted",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n      runAsNonRoot: false\n      seccompProfile: {type: RuntimeDefault}\n      capabilities: {drop: [ALL]}\n"),
			checks:     []string{"runAsNonRoot"},
			fields:     []string{"spec.containers[0].securityContext.runAsNonRoot"},
			controlFor: map[string]string{"runAsNonRoot": "Running as Non-root"},
		},
		{
			name:    "runAsNonRoot set at pod level covers containers",
			level:   "restricted",
			doc:     pod("  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n"),
			allowed: true,
		},
		{
			name:       "runAsUser zero",
			level:      "restricted",
			doc:        pod("  securityContext: {runAsUser: 0}\n  containers:\n  - name: a\n    image: nginx" + restrictedSC + "\n"),
			checks:     []string{"runAsUser"},
			fields:     []string{"spec.securityContext.runAsUser"},
			controlFor: map[string]string{"runAsUser": "Running as Non-root user"},
		},
		{
			name:       "seccomp baseline unconfined at pod level",
			doc:        pod("  securityContext:\n    seccompProfile: {type: Unconfined}\n  containers:\n  - name: a\n    image: nginx\n"),
			checks:     []string{"seccompProfile_baseline"},
			fields:     []string{"spec.securityContext.seccompProfile.type"},
			controlFor: map[string]string{"seccompProfile_baseline": "Seccomp"},
		},
		{
			name:   "seccomp restricted missing",
			level:  "restricted",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: false\n      runAsNonRoot: true\n      capabilities: {drop: [ALL]}\n"),
			checks: []string{"seccompProfile_restricted"},
			fields: []string{"spec.containers[0].securityContext.seccompProfile.type"},
		},
		{
			name:       "unsafe sysctl",
			doc:        pod("  securityContext:\n    sysctls:\n    - {name: kernel.shm_rmid_forced, value: '0'}\n    - {name: kernel.msgmax, value: '1'}\n  containers:\n  - name: a\n    image: nginx\n"),
			checks:     []string{"sysctls"},
			fields:     []string{"spec.securityContext.sysctls[1].name"},
			controlFor: map[string]string{"sysctls": "Sysctls"},
		},
		{
			name:       "procMount unmasked",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {procMount: Unmasked}\n"),
			checks:     []string{"procMount"},
			fields:     []string{"spec.containers[0].securityContext.procMount"},
			controlFor: map[string]string{"procMount": "/proc Mount Type"},
		},
		{
			name:       "SELinux custom type and user",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      seLinuxOptions: {type: spc_t, user: root}\n"),
			checks:     []string{"seLinuxOptions"},
			fields:     []string{"spec.containers[0].securityContext.seLinuxOptions.type", "spec.containers[0].securityContext.seLinuxOptions.user"},
			controlFor: map[string]string{"seLinuxOptions": "SELinux"},
		},
		{
			name:    "SELinux allowed type",
			doc:     pod("  securityContext:\n    seLinuxOptions: {type: container_t}\n  containers:\n  - name: a\n    image: nginx\n"),
			allowed: true,
		},
		{
			name:       "AppArmor annotation unconfined",
			doc:        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/a: unconfined\nspec:\n  containers:\n  - name: a\n    image: nginx\n",
			checks:     []string{"appArmorProfile"},
			fields:     []string{"metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]"},
			controlFor: map[string]string{"appArmorProfile": "AppArmor"},
		},
		{
			name:   "AppArmor profile type unconfined",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      appArmorProfile: {type: Unconfined}\n"),
			checks: []string{"appArmorProfile"},
			fields: []string{"spec.containers[0].securityContext.appArmorProfile.type"},
		},
		{
			name:       "restricted volume type nfs",
			level:      "restricted",
			doc:        pod("  containers:\n  - name: a\n    image: nginx" + restrictedSC + "\n  volumes:\n  - name: c\n    configMap: {name: x}\n  - name: nfsvol\n    nfs: {server: s, path: /}\n"),
			checks:     []string{"restrictedVolumes"},
			fields:     []string{"spec.volumes[1].nfs"},
			controlFor: map[string]string{"restrictedVolumes": "Volume Types"},
		},
		{
			name:       "privilege escalation allowed",
			level:      "restricted",
			doc:        pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      allowPrivilegeEscalation: true\n      runAsNonRoot: true\n      seccompProfile: {type: RuntimeDefault}\n      capabilities: {drop: [ALL]}\n"),
			checks:     []string{"allowPrivilegeEscalation"},
			fields:     []string{"spec.containers[0].securityContext.allowPrivilegeEscalation"},
			controlFor: map[string]string{"allowPrivilegeEscalation": "Privilege Escalation"},
		},
		{
			name:       "windows hostProcess at pod level",
			doc:        pod("  securityContext:\n    windowsOptions: {hostProcess: true}\n  containers:\n  - name: a\n    image: nginx\n"),
			checks:     []string{"windowsHostProcess"},
			fields:     []string{"spec.securityContext.windowsOptions.hostProcess"},
			controlFor: map[string]string{"windowsHostProcess": "HostProcess"},
		},
		{
			name:   "probe host",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n    livenessProbe:\n      httpGet: {host: 10.0.0.1, port: 80}\n"),
			checks: []string{"hostProbesAndHostLifecycle"},
			fields: []string{"spec.containers[0].livenessProbe.httpGet.host"},
		},
		{
			name:   "ephemeral container",
			doc:    pod("  containers:\n  - name: a\n    image: nginx\n  ephemeralContainers:\n  - name: dbg\n    image: busybox\n    securityContext: {privileged: true}\n"),
			checks: []string{"privileged"},
			fields: []string{"spec.ephemeralContainers[0].securityContext.privileged"},
		},
	})
}

func TestLevelsAndVersions(t *testing.T) {
	t.Parallel()
	windowsPod := pod("  os: {name: windows}\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: a\n    image: nginx\n")
	linuxNoAPE := pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      runAsNonRoot: true\n      seccompProfile: {type: RuntimeDefault}\n      capabilities: {drop: [ALL]}\n")
	runAsRoot := pod("  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      runAsUser: 0\n      allowPrivilegeEscalation: false\n      runAsNonRoot: true\n      seccompProfile: {type: RuntimeDefault}\n      capabilities: {drop: [ALL]}\n")
	probeHost := pod("  containers:\n  - name: a\n    image: nginx\n    readinessProbe:\n      tcpSocket: {host: db, port: 5432}\n")
	reservedPorts := pod("  securityContext:\n    sysctls:\n    - {name: net.ipv4.ip_local_reserved_ports, value: '80'}\n  containers:\n  - name: a\n    image: nginx\n")
	runEvalCases(t, []evalCase{
		{name: "baseline ignores restricted checks", level: "baseline", doc: linuxNoAPE, allowed: true},
		{name: "restricted runs baseline and restricted", level: "restricted", doc: pod("  hostPID: true\n  containers:\n  - name: a\n    image: nginx" + restrictedSC + "\n"),
			checks: []string{"hostNamespaces"}, fields: []string{"spec.hostPID"}},
		{name: "privileged level runs every check like Kyverno", level: "privileged", doc: linuxNoAPE,
			checks: []string{"allowPrivilegeEscalation"}, fields: []string{"spec.containers[0].securityContext.allowPrivilegeEscalation"}},
		{name: "empty version means latest", level: "restricted", version: "", doc: windowsPod, allowed: true},
		{name: "latest exempts windows pods", level: "restricted", version: "latest", doc: windowsPod, allowed: true},
		{name: "v1.24 does not exempt windows pods", level: "restricted", version: "v1.24", doc: windowsPod,
			checks: []string{"allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"},
			fields: []string{"spec.containers[0].securityContext.allowPrivilegeEscalation", "spec.containers[0].securityContext.capabilities.drop", "spec.containers[0].securityContext.seccompProfile.type"}},
		{name: "explicit version runs every applicable variant", level: "restricted", version: "v1.25", doc: linuxNoAPE,
			checks: []string{"allowPrivilegeEscalation", "allowPrivilegeEscalation"},
			fields: []string{"spec.containers[0].securityContext.allowPrivilegeEscalation", "spec.containers[0].securityContext.allowPrivilegeEscalation"}},
		{name: "runAsUser check absent before v1.23", level: "restricted", version: "v1.22", doc: runAsRoot, allowed: true},
		{name: "runAsUser check from v1.23", level: "restricted", version: "v1.23", doc: runAsRoot,
			checks: []string{"runAsUser"}, fields: []string{"spec.containers[0].securityContext.runAsUser"}},
		{name: "probe host allowed before v1.34", version: "v1.33", doc: probeHost, allowed: true},
		{name: "probe host forbidden from v1.34", version: "v1.34", doc: probeHost,
			checks: []string{"hostProbesAndHostLifecycle"}, fields: []string{"spec.containers[0].readinessProbe.tcpSocket.host"}},
		{name: "sysctl allowed in latest", version: "latest", doc: reservedPorts, allowed: true},
		{name: "sysctl forbidden before v1.27", version: "v1.26", doc: reservedPorts,
			checks: []string{"sysctls"}, fields: []string{"spec.securityContext.sysctls[0].name"}},
		{name: "explicit v1.27 still runs the v1.0 sysctl variant", version: "v1.27", doc: reservedPorts,
			checks: []string{"sysctls"}, fields: []string{"spec.securityContext.sysctls[0].name"}},
	})
}

func TestExclusions(t *testing.T) {
	t.Parallel()
	twoContainersNoDrop := pod(`  containers:
  - name: web
    image: nginx:1.25
    securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  - name: side
    image: busybox:1.28
    securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
`)
	addCaps := func(caps string) string {
		return pod("  containers:\n  - name: a\n    image: ghcr.io/example/agent:1.0\n    securityContext:\n      capabilities: {add: [" + caps + "]}\n")
	}
	hostPaths := func(p1, p2 string) string {
		return pod("  containers:\n  - name: a\n    image: nginx\n  volumes:\n  - name: one\n    hostPath: {path: " + p1 + "}\n  - name: two\n    hostPath: {path: " + p2 + "}\n")
	}
	capsField := "spec.containers[0].securityContext.capabilities.add"
	runEvalCases(t, []evalCase{
		{
			name:    "image wildcard exempts matching container only",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"nginx*"}}},
			doc:     twoContainersNoDrop,
			checks:  []string{"capabilities_restricted"},
			fields:  []string{"spec.containers[1].securityContext.capabilities.drop"},
		},
		{
			name:    "images matching every container exempt the control",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"nginx:*", "busybox:1.?8"}}},
			doc:     twoContainersNoDrop,
			allowed: true,
		},
		{
			name:    "exclusion of another control changes nothing",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Privileged Containers", Images: []string{"*"}}},
			doc:     twoContainersNoDrop,
			checks:  []string{"capabilities_restricted"},
			fields:  []string{"spec.containers[0].securityContext.capabilities.drop", "spec.containers[1].securityContext.capabilities.drop"},
		},
		{
			name: "restrictedField with listed value",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"ghcr.io/example/*"},
				RestrictedField: "spec.containers[*].securityContext.capabilities.add", Values: []string{"SYS_ADMIN"}}},
			doc:     addCaps("SYS_ADMIN"),
			allowed: true,
		},
		{
			name: "restrictedField with an unlisted value keeps the failure",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"ghcr.io/example/*"},
				RestrictedField: "spec.containers[*].securityContext.capabilities.add", Values: []string{"SYS_ADMIN"}}},
			doc:    addCaps("SYS_ADMIN, NET_ADMIN"),
			checks: []string{"capabilities_baseline"},
			fields: []string{capsField},
		},
		{
			name: "value wildcard",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"*"},
				RestrictedField: "spec.containers[*].securityContext.capabilities.add", Values: []string{"SYS_*", "NET_ADMIN"}}},
			doc:     addCaps("SYS_ADMIN, SYS_TIME, NET_ADMIN"),
			allowed: true,
		},
		{
			name: "restrictedField for containers does not cover init containers",
			exclude: []Exclusion{{ControlName: "Privileged Containers", Images: []string{"*"},
				RestrictedField: "spec.containers[*].securityContext.privileged", Values: []string{"true"}}},
			doc:    pod("  initContainers:\n  - name: i\n    image: busybox\n    securityContext: {privileged: true}\n  containers:\n  - name: a\n    image: nginx\n    securityContext: {privileged: true}\n"),
			checks: []string{"privileged"},
			fields: []string{"spec.initContainers[0].securityContext.privileged"},
		},
		{
			name:    "image not matching keeps the failure",
			exclude: []Exclusion{{ControlName: "Privileged Containers", Images: []string{"nginx"}}},
			doc:     pod("  containers:\n  - name: a\n    image: nginx:1.25\n    securityContext: {privileged: true}\n"),
			checks:  []string{"privileged"},
			fields:  []string{"spec.containers[0].securityContext.privileged"},
		},
		{
			name: "pod-level restrictedField and boolean value",
			exclude: []Exclusion{{ControlName: "Host Namespaces",
				RestrictedField: "spec.hostNetwork", Values: []string{"true"}}},
			doc:    pod("  hostNetwork: true\n  hostPID: true\n  containers:\n  - name: a\n    image: nginx\n"),
			checks: []string{"hostNamespaces"},
			fields: []string{"spec.hostPID"},
		},
		{
			name: "hostPath values partially matching",
			exclude: []Exclusion{{ControlName: "HostPath Volumes",
				RestrictedField: "spec.volumes[*].hostPath", Values: []string{"/var/log*"}}},
			doc:    hostPaths("/var/log/app", "/etc"),
			checks: []string{"hostPathVolumes"},
			fields: []string{"spec.volumes[1].hostPath"},
		},
		{
			name: "hostPath values all matching",
			exclude: []Exclusion{{ControlName: "HostPath Volumes",
				RestrictedField: "spec.volumes[*].hostPath", Values: []string{"/var/log*", "/etc"}}},
			doc:     hostPaths("/var/log/app", "/etc"),
			allowed: true,
		},
		{
			name: "host port number value",
			exclude: []Exclusion{{ControlName: "Host Ports", Images: []string{"nginx"},
				RestrictedField: "spec.containers[*].ports[*].hostPort", Values: []string{"8080"}}},
			doc:     pod("  containers:\n  - name: a\n    image: nginx\n    ports:\n    - {containerPort: 80, hostPort: 8080}\n"),
			allowed: true,
		},
		{
			name:    "control-only pod-level exclusion",
			exclude: []Exclusion{{ControlName: "Sysctls"}},
			doc:     pod("  securityContext:\n    sysctls:\n    - {name: kernel.msgmax, value: '1'}\n  containers:\n  - name: a\n    image: nginx\n"),
			allowed: true,
		},
		{
			name:    "seccomp exclusion without images exempts the pod-level field",
			exclude: []Exclusion{{ControlName: "Seccomp", RestrictedField: "spec.securityContext.seccompProfile.type", Values: []string{"Unconfined"}}},
			doc:     pod("  securityContext:\n    seccompProfile: {type: Unconfined}\n  containers:\n  - name: a\n    image: nginx\n"),
			allowed: true,
		},
		{
			name:    "seccomp exclusion with images does not exempt the pod-level field",
			exclude: []Exclusion{{ControlName: "Seccomp", Images: []string{"*"}}},
			doc:     pod("  securityContext:\n    seccompProfile: {type: Unconfined}\n  containers:\n  - name: a\n    image: nginx\n"),
			checks:  []string{"seccompProfile_baseline"},
			fields:  []string{"spec.securityContext.seccompProfile.type"},
		},
		{
			name:    "seccomp exclusion without images removes one container error per fake container error (Kyverno quirk)",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Seccomp"}},
			doc: pod(`  containers:
  - name: a
    image: nginx
    securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: {drop: [ALL]}}
  - name: b
    image: nginx
    securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: {drop: [ALL]}}
`),
			checks: []string{"seccompProfile_restricted"},
			fields: []string{"spec.containers[1].securityContext.seccompProfile.type"},
		},
		{
			name:    "image exclusion exempts the container but not the pod-level field",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Running as Non-root", Images: []string{"nginx"}}},
			doc:     pod("  securityContext: {runAsNonRoot: false, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: a\n    image: nginx\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n"),
			checks:  []string{"runAsNonRoot"},
			fields:  []string{"spec.securityContext.runAsNonRoot"},
		},
		{
			name:    "allowPrivilegeEscalation nil value requires listing nil",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Privilege Escalation", Images: []string{"nginx"}, RestrictedField: "spec.containers[*].securityContext.allowPrivilegeEscalation", Values: []string{"true"}}},
			doc:     pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, capabilities: {drop: [ALL]}}\n"),
			checks:  []string{"allowPrivilegeEscalation"},
			fields:  []string{"spec.containers[0].securityContext.allowPrivilegeEscalation"},
		},
		{
			name:    "several exclusions combine",
			level:   "restricted",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"nginx*"}}, {ControlName: "Capabilities", Images: []string{"busybox*"}}},
			doc:     twoContainersNoDrop,
			allowed: true,
		},
		{
			name:    "exclusion collapses duplicate variants of explicit versions",
			level:   "restricted",
			version: "v1.25",
			exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"nginx*"}}},
			doc:     twoContainersNoDrop,
			checks:  []string{"capabilities_restricted"},
			fields:  []string{"spec.containers[1].securityContext.capabilities.drop"},
		},
	})
}

func TestPodControllers(t *testing.T) {
	t.Parallel()
	template := `
      containers:
      - name: a
        image: nginx:1.25
        securityContext: {privileged: true}
`
	tests := []struct {
		name    string
		doc     string
		allowed bool
		fields  []string
		images  []string
	}{
		{name: "Deployment", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:" + template,
			fields: []string{"spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "ReplicaSet", doc: "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: d}\nspec:\n  template:\n    spec:" + template,
			fields: []string{"spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "DaemonSet", doc: "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n  template:\n    spec:" + template,
			fields: []string{"spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "StatefulSet", doc: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: d}\nspec:\n  template:\n    spec:" + template,
			fields: []string{"spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "Job", doc: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: d}\nspec:\n  template:\n    spec:" + template,
			fields: []string{"spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "CronJob", doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: a\n            image: nginx:1.25\n            securityContext: {privileged: true}\n",
			fields: []string{"spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"}, images: []string{"nginx:1.25"}},
		{name: "Deployment without template passes", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n", allowed: true},
		{name: "CronJob reads metadata from the job template", doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\nspec:\n  jobTemplate:\n    metadata:\n      annotations:\n        container.apparmor.security.beta.kubernetes.io/a: unconfined\n    spec:\n      template:\n        spec:\n          containers:\n          - {name: a, image: nginx}\n",
			fields: []string{"spec.jobTemplate.metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]"}},
		{name: "CronJob ignores pod template metadata like Kyverno", doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations:\n            container.apparmor.security.beta.kubernetes.io/a: unconfined\n        spec:\n          containers:\n          - {name: a, image: nginx}\n",
			allowed: true},
		{name: "Deployment pod template metadata", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n      annotations:\n        container.apparmor.security.beta.kubernetes.io/a: unconfined\n    spec:\n      containers:\n      - {name: a, image: nginx}\n",
			fields: []string{"spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := evaluate(t, Spec{Level: "baseline"}, tt.doc)
			if res.Allowed != tt.allowed {
				t.Fatalf("Allowed = %v, want %v (%+v)", res.Allowed, tt.allowed, res.Failures)
			}
			if got := allFields(res); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields = %q, want %q", got, tt.fields)
			}
			var images []string
			for _, f := range res.Failures {
				images = append(images, f.Images...)
			}
			if !reflect.DeepEqual(images, tt.images) {
				t.Errorf("images = %q, want %q", images, tt.images)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		doc  string
		want string
	}{
		{
			name: "allowed",
			spec: Spec{Level: "baseline", Version: "latest"},
			doc:  pod("  containers:\n  - {name: a, image: nginx}\n"),
			want: "Validation rule 'pss' passed.",
		},
		{
			name: "restricted defaults",
			spec: Spec{Level: "restricted", Version: "latest"},
			doc:  pod("  containers:\n  - {name: a, image: nginx}\n"),
			want: `Validation rule 'pss' failed. It violates PodSecurity "restricted:latest": ` +
				`(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation: Required value])` +
				`(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop: Required value])` +
				`(Forbidden reason: runAsNonRoot != true, field error list: [spec.containers[0].securityContext.runAsNonRoot: Required value])` +
				`(Forbidden reason: seccompProfile, field error list: [spec.containers[0].securityContext.seccompProfile.type: Required value])`,
		},
		{
			name: "forbidden values",
			spec: Spec{Level: "baseline", Version: "v1.30"},
			doc:  pod("  hostNetwork: true\n  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      capabilities: {add: [NET_RAW]}\n  volumes:\n  - name: x\n    hostPath: {path: /run/xtables.lock}\n"),
			want: `Validation rule 'pss' failed. It violates PodSecurity "baseline:v1.30": ` +
				`(Forbidden reason: non-default capabilities, field error list: [spec.containers[0].securityContext.capabilities.add is forbidden, forbidden values found: [NET_RAW]])` +
				`(Forbidden reason: host namespaces, field error list: [spec.hostNetwork is forbidden, forbidden values found: true])` +
				`(Forbidden reason: hostPath volumes, field error list: [spec.volumes[0].hostPath is forbidden, forbidden values found: /run/xtables.lock])`,
		},
		{
			name: "nil allowPrivilegeEscalation and restricted volume",
			spec: Spec{Level: "restricted", Version: "latest"},
			doc:  pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, capabilities: {drop: [ALL]}}\n  volumes:\n  - name: nfsvol\n    nfs: {server: s, path: /}\n"),
			want: `Validation rule 'pss' failed. It violates PodSecurity "restricted:latest": ` +
				`(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: nil])` +
				`(Forbidden reason: restricted volume types, field error list: [spec.volumes[0].nfs: Forbidden])`,
		},
		{
			name: "deployment paths rewritten like Kyverno",
			spec: Spec{Level: "baseline", Version: "latest"},
			doc:  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: nginx\n        securityContext: {privileged: true}\n",
			want: `Validation rule 'pss' failed. It violates PodSecurity "baseline:latest": ` +
				`(Forbidden reason: privileged, field error list: [spec.template.spec.containers[0].securityContext.privileged is forbidden, forbidden values found: true])`,
		},
		{
			name: "pod metadata path rewritten like Kyverno",
			spec: Spec{Level: "baseline", Version: "latest"},
			doc:  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/a: unconfined\nspec:\n  containers:\n  - {name: a, image: nginx}\n",
			want: `Validation rule 'pss' failed. It violates PodSecurity "baseline:latest": ` +
				`(Forbidden reason: forbidden AppArmor profile, field error list: [spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/a] is forbidden, forbidden values found: unconfined])`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := evaluate(t, tt.spec, tt.doc)
			if got := res.Message("pss", tt.spec); got != tt.want {
				t.Errorf("Message =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{name: "missing level", spec: Spec{}, want: "podSecurity.level is required"},
		{name: "unknown level", spec: Spec{Level: "strict"}, want: `podSecurity.level "strict": must be one of`},
		{name: "version without v", spec: Spec{Level: "baseline", Version: "1.25"}, want: `podSecurity.version "1.25": must be "latest" or "v1.x"`},
		{name: "version major 2", spec: Spec{Level: "baseline", Version: "v2.0"}, want: `podSecurity.version "v2.0"`},
		{name: "unknown control", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Privileged"}}},
			want: `podSecurity.exclude[0].controlName: unknown control "Privileged"`},
		{name: "container control without images", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Sysctls"}, {ControlName: "Host Ports"}}},
			want: `podSecurity.exclude[1].images: required for the container-level control "Host Ports"`},
		{name: "pod control with images", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Host Namespaces", Images: []string{"nginx"}}}},
			want: `podSecurity.exclude[0].images: not allowed for the pod-level control "Host Namespaces"`},
		{name: "restricted control at baseline", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Running as Non-root"}}},
			want: `podSecurity.exclude[0].controlName: control "Running as Non-root" is not part of the baseline level`},
		{name: "restrictedField without values", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Host Namespaces", RestrictedField: "spec.hostPID"}}},
			want: `podSecurity.exclude[0].values: required when restrictedField is set`},
		{name: "values without restrictedField", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Host Namespaces", Values: []string{"true"}}}},
			want: `podSecurity.exclude[0].restrictedField: required when values are set`},
		{name: "field of another control", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"*"}, RestrictedField: "spec.hostNetwork", Values: []string{"true"}}}},
			want: `podSecurity.exclude[0].restrictedField: "spec.hostNetwork" is not a field of control "Capabilities"`},
		{name: "concrete index instead of wildcard", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Privileged Containers", Images: []string{"*"}, RestrictedField: "spec.containers[0].securityContext.privileged", Values: []string{"true"}}}},
			want: `podSecurity.exclude[0].restrictedField: "spec.containers[0].securityContext.privileged" is not a field of control "Privileged Containers"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(tt.spec)
			if err == nil {
				t.Fatalf("Compile succeeded (%v), want error containing %q", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
	}{
		{name: "privileged level", spec: Spec{Level: "privileged"}},
		{name: "explicit latest", spec: Spec{Level: "restricted", Version: "latest"}},
		{name: "old version", spec: Spec{Level: "restricted", Version: "v1.0"}},
		{name: "mixed control with and without images", spec: Spec{Level: "baseline", Exclude: []Exclusion{
			{ControlName: "Seccomp"}, {ControlName: "Seccomp", Images: []string{"*"}}}}},
		{name: "capabilities allowed at baseline", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"*"}}}}},
		{name: "annotation restricted field", spec: Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "AppArmor",
			RestrictedField: "metadata.annotations[container.apparmor.security.beta.kubernetes.io/a]", Values: []string{"unconfined"}}}}},
		{name: "volume type field", spec: Spec{Level: "restricted", Exclude: []Exclusion{{ControlName: "Volume Types",
			RestrictedField: "spec.volumes[*].nfs", Values: []string{"*"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Compile(tt.spec); err != nil {
				t.Fatalf("Compile: %v", err)
			}
		})
	}
}

func TestCompileCopiesExclusions(t *testing.T) {
	t.Parallel()
	images := []string{"nginx"}
	c := mustCompile(t, Spec{Level: "baseline", Exclude: []Exclusion{{ControlName: "Privileged Containers", Images: images}}})
	images[0] = "other"
	res, err := c.Evaluate(parseYAML(t, pod("  containers:\n  - name: a\n    image: nginx\n    securityContext: {privileged: true}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed {
		t.Fatalf("exclusion was affected by mutating the caller's slice: %+v", res.Failures)
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	c := mustCompile(t, Spec{Level: "restricted"})
	tests := []struct {
		name     string
		resource map[string]any
		want     string
	}{
		{name: "nil resource", resource: nil, want: "resource is nil"},
		{name: "no kind", resource: map[string]any{"spec": map[string]any{}}, want: "resource has no kind"},
		{name: "kind not a string", resource: map[string]any{"kind": 3.0}, want: "resource kind is a float64, not a string"},
		{name: "unsupported kind", resource: map[string]any{"kind": "Service"}, want: `unsupported resource kind "Service"`},
		{name: "spec not an object", resource: map[string]any{"kind": "Pod", "spec": "x"}, want: "Pod: spec is a string, not an object"},
		{name: "template not an object", resource: map[string]any{"kind": "Deployment", "spec": map[string]any{"template": []any{}}},
			want: "Deployment: spec.template is a []interface {}, not an object"},
		{name: "containers not a list", resource: map[string]any{"kind": "Pod", "spec": map[string]any{"containers": "nginx"}},
			want: "Pod: decoding pod template: json: cannot unmarshal string"},
		{name: "privileged not a bool", resource: parseYAML(t, pod("  containers:\n  - name: a\n    securityContext: {privileged: 'yes'}\n")),
			want: "Pod: decoding pod template: json: cannot unmarshal string"},
		{name: "unencodable value", resource: map[string]any{"kind": "Pod", "spec": map[string]any{"securityContext": make(chan int)}},
			want: "Pod: encoding pod template: json: unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Evaluate(tt.resource)
			if err == nil {
				t.Fatalf("Evaluate succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNumberTypes(t *testing.T) {
	t.Parallel()
	c := mustCompile(t, Spec{Level: "baseline"})
	for _, port := range []any{8080.0, 8080, int64(8080), float32(8080), json.Number("8080")} {
		res, err := c.Evaluate(map[string]any{
			"kind": "Pod",
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "a", "image": "nginx",
				"ports": []any{map[string]any{"containerPort": 80, "hostPort": port}},
			}}},
		})
		if err != nil {
			t.Fatalf("hostPort %T: %v", port, err)
		}
		if got := allFields(res); !reflect.DeepEqual(got, []string{"spec.containers[0].ports[0].hostPort"}) {
			t.Errorf("hostPort %T: fields %q", port, got)
		}
	}
}

func TestEvaluateDoesNotMutateInput(t *testing.T) {
	t.Parallel()
	doc := pod("  securityContext: {runAsNonRoot: false}\n  containers:\n  - name: a\n    image: nginx\n    securityContext: {privileged: true}\n")
	in := parseYAML(t, doc)
	want := parseYAML(t, doc)
	c := mustCompile(t, Spec{Level: "restricted", Exclude: []Exclusion{{ControlName: "Privileged Containers", Images: []string{"*"}}, {ControlName: "Running as Non-root"}}})
	if _, err := c.Evaluate(in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("input mutated:\n%v\nwant\n%v", in, want)
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	t.Parallel()
	c := mustCompile(t, Spec{Level: "restricted", Exclude: []Exclusion{{ControlName: "Capabilities", Images: []string{"nginx*"}}}})
	res := parseYAML(t, pod("  containers:\n  - {name: a, image: nginx}\n  - {name: b, image: busybox}\n"))
	want, err := c.Evaluate(res)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				got, err := c.Evaluate(res)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent Evaluate differs: %v %+v", err, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCorpusRestrictedLatest replays the corpus test that uses podSecurity
// (pod-security/subrule/restricted/restricted-latest).
func TestCorpusRestrictedLatest(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(corpus.Kyverno(t), "pod-security", "subrule", "restricted", "restricted-latest")
	policyRaw, err := os.ReadFile(filepath.Join(dir, "restricted-latest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Spec struct {
			Rules []struct {
				Name     string `json:"name"`
				Validate struct {
					PodSecurity struct {
						Level   string `json:"level"`
						Version string `json:"version"`
					} `json:"podSecurity"`
				} `json:"validate"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(policyRaw, &policy); err != nil {
		t.Fatal(err)
	}
	ps := policy.Spec.Rules[0].Validate.PodSecurity
	spec := Spec{Level: ps.Level, Version: ps.Version}
	c := mustCompile(t, spec)
	resRaw, err := os.ReadFile(filepath.Join(dir, ".kyverno-test", "resource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"goodpod01": true, "badpod01": false}
	seen := 0
	for _, doc := range strings.Split(string(resRaw), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := parseYAML(t, doc)
		name := obj["metadata"].(map[string]any)["name"].(string)
		res, err := c.Evaluate(obj)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Allowed != want[name] {
			t.Errorf("%s: Allowed = %v, want %v: %s", name, res.Allowed, want[name], res.Message(policy.Spec.Rules[0].Name, spec))
		}
		seen++
	}
	if seen != len(want) {
		t.Fatalf("evaluated %d resources, want %d", seen, len(want))
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add(`{"kind":"Pod","spec":{"containers":[{"name":"a","image":"nginx","securityContext":{"privileged":true}}]}}`)
	f.Add(`{"kind":"Deployment","spec":{"template":{"spec":{"hostNetwork":true,"containers":[{"name":"a"}]}}}}`)
	f.Add(`{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"volumes":[{"name":"v","hostPath":{"path":"/"}}]}}}}}}`)
	f.Add(`{"kind":"Pod","spec":[]}`)
	checkers := []*Checker{
		mustCompile(f, Spec{Level: "restricted"}),
		mustCompile(f, Spec{Level: "baseline", Version: "v1.20", Exclude: []Exclusion{
			{ControlName: "Privileged Containers", Images: []string{"*"}},
			{ControlName: "Host Namespaces", RestrictedField: "spec.hostNetwork", Values: []string{"true"}},
			{ControlName: "Seccomp"},
		}}),
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(doc), &obj); err != nil {
			return
		}
		for _, c := range checkers {
			res, err := c.Evaluate(obj)
			if err != nil {
				continue
			}
			if res.Allowed != (len(res.Failures) == 0) {
				t.Fatalf("Allowed=%v with %d failures", res.Allowed, len(res.Failures))
			}
			_ = res.Message("r", Spec{Level: "restricted"})
		}
	})
}

func FuzzCompile(f *testing.F) {
	f.Add("restricted", "v1.25", "Capabilities", "nginx", "spec.containers[*].securityContext.capabilities.add", "SYS_ADMIN")
	f.Add("baseline", "latest", "Host Namespaces", "", "spec.hostNetwork", "true")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, level, version, control, image, field, value string) {
		ex := Exclusion{ControlName: control, RestrictedField: field}
		if image != "" {
			ex.Images = []string{image}
		}
		if value != "" {
			ex.Values = []string{value}
		}
		c, err := Compile(Spec{Level: level, Version: version, Exclude: []Exclusion{ex}})
		if err != nil {
			return
		}
		if _, err := c.Evaluate(map[string]any{"kind": "Pod", "spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": image}}}}); err != nil {
			t.Fatalf("Evaluate on a compiled spec: %v", err)
		}
	})
}

func BenchmarkRestrictedPod(b *testing.B) {
	c := mustCompile(b, Spec{Level: "restricted", Version: "latest"})
	res := parseYAML(b, `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  labels: {app: web}
  annotations: {team: a}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - {containerPort: 8080}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: cache, mountPath: /cache}
  - name: sidecar
    image: busybox:1.36
    command: [sh, -c, sleep 3600]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
  volumes:
  - name: cache
    emptyDir: {}
`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := c.Evaluate(res)
		if err != nil || !r.Allowed {
			b.Fatalf("unexpected result %v %+v", err, r)
		}
	}
}
