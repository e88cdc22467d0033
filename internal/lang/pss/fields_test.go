package pss

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"
)

// byteSource hands out fuzz bytes as small choices; it yields zeros once
// exhausted so every input produces a pod.
type byteSource struct {
	data []byte
	pos  int
}

func (b *byteSource) pick(n int) int {
	if b.pos >= len(b.data) {
		return 0
	}
	v := int(b.data[b.pos]) % n
	b.pos++
	return v
}

func (b *byteSource) boolPtr() *bool {
	switch b.pick(3) {
	case 1:
		v := true
		return &v
	case 2:
		v := false
		return &v
	}
	return nil
}

func (b *byteSource) str(options ...string) string {
	return options[b.pick(len(options))]
}

var (
	capPalette     = []corev1.Capability{"ALL", "NET_BIND_SERVICE", "NET_RAW", "SYS_ADMIN", "CHOWN", "KILL"}
	seccompPalette = []corev1.SeccompProfileType{"RuntimeDefault", "Localhost", "Unconfined", ""}
	sysctlPalette  = []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
		"net.ipv4.tcp_rmem", "net.ipv4.tcp_notsent_lowat", "kernel.msgmax"}
)

func (b *byteSource) securityContext() *corev1.SecurityContext {
	if b.pick(4) == 0 {
		return nil
	}
	sc := &corev1.SecurityContext{
		Privileged:               b.boolPtr(),
		AllowPrivilegeEscalation: b.boolPtr(),
		RunAsNonRoot:             b.boolPtr(),
	}
	if b.pick(2) == 1 {
		sc.Capabilities = &corev1.Capabilities{}
		for i := b.pick(3); i > 0; i-- {
			sc.Capabilities.Add = append(sc.Capabilities.Add, capPalette[b.pick(len(capPalette))])
		}
		for i := b.pick(3); i > 0; i-- {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, capPalette[b.pick(len(capPalette))])
		}
	}
	if b.pick(2) == 1 {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: seccompPalette[b.pick(len(seccompPalette))]}
	}
	if b.pick(3) == 1 {
		u := int64(b.pick(2) * 1000)
		sc.RunAsUser = &u
	}
	if b.pick(3) == 1 {
		pm := corev1.ProcMountType(b.str("Default", "Unmasked"))
		sc.ProcMount = &pm
	}
	if b.pick(3) == 1 {
		sc.SELinuxOptions = &corev1.SELinuxOptions{
			Type: b.str("", "container_t", "container_engine_t", "spc_t"),
			User: b.str("", "root"),
			Role: b.str("", "sysadm_r"),
		}
	}
	if b.pick(3) == 1 {
		sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: b.boolPtr()}
	}
	if b.pick(3) == 1 {
		sc.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileType(b.str("RuntimeDefault", "Localhost", "Unconfined"))}
	}
	return sc
}

func (b *byteSource) container(i int) corev1.Container {
	c := corev1.Container{Name: "c" + string(rune('a'+i)), Image: b.str("nginx", "busybox:1.28", "ghcr.io/x/y:1")}
	c.SecurityContext = b.securityContext()
	for j := b.pick(3); j > 0; j-- {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: int32(b.pick(2) * 8080)})
	}
	if b.pick(3) == 1 {
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: b.str("", "10.0.0.1")}}}
	}
	if b.pick(4) == 1 {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Host: b.str("", "example.com")}}}
	}
	return c
}

// genPod builds a pod whose security-relevant fields are all driven by data.
func genPod(data []byte) *corev1.Pod {
	b := &byteSource{data: data}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{}}}
	spec := &pod.Spec
	spec.HostNetwork = b.pick(4) == 1
	spec.HostPID = b.pick(4) == 1
	spec.HostIPC = b.pick(4) == 1
	if b.pick(4) == 1 {
		spec.OS = &corev1.PodOS{Name: corev1.OSName(b.str("windows", "linux"))}
	}
	if b.pick(4) == 1 {
		spec.HostUsers = b.boolPtr()
	}
	if b.pick(2) == 1 {
		psc := &corev1.PodSecurityContext{RunAsNonRoot: b.boolPtr()}
		if b.pick(2) == 1 {
			psc.SeccompProfile = &corev1.SeccompProfile{Type: seccompPalette[b.pick(len(seccompPalette))]}
		}
		if b.pick(3) == 1 {
			u := int64(b.pick(2))
			psc.RunAsUser = &u
		}
		for i := b.pick(3); i > 0; i-- {
			psc.Sysctls = append(psc.Sysctls, corev1.Sysctl{Name: sysctlPalette[b.pick(len(sysctlPalette))]})
		}
		if b.pick(3) == 1 {
			psc.SELinuxOptions = &corev1.SELinuxOptions{Type: b.str("", "spc_t"), User: b.str("", "u")}
		}
		if b.pick(3) == 1 {
			psc.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: b.boolPtr()}
		}
		if b.pick(3) == 1 {
			psc.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileType(b.str("RuntimeDefault", "Unconfined"))}
		}
		spec.SecurityContext = psc
	}
	for i := b.pick(3); i > 0; i-- {
		v := corev1.Volume{Name: "v" + string(rune('0'+i))}
		switch b.pick(4) {
		case 0:
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		case 1:
			v.HostPath = &corev1.HostPathVolumeSource{Path: "/var/run"}
		case 2:
			v.NFS = &corev1.NFSVolumeSource{Server: "s", Path: "/"}
		}
		spec.Volumes = append(spec.Volumes, v)
	}
	n := 0
	for i := b.pick(3); i > 0; i-- {
		spec.InitContainers = append(spec.InitContainers, b.container(n))
		n++
	}
	for i := 1 + b.pick(3); i > 0; i-- {
		spec.Containers = append(spec.Containers, b.container(n))
		n++
	}
	if b.pick(3) == 1 {
		spec.EphemeralContainers = append(spec.EphemeralContainers,
			corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(b.container(n))})
	}
	if b.pick(3) == 1 {
		pod.Annotations["container.apparmor.security.beta.kubernetes.io/ca"] = b.str("runtime/default", "unconfined", "localhost/x")
	}
	if b.pick(3) == 1 {
		pod.Annotations["seccomp.security.alpha.kubernetes.io/pod"] = b.str("runtime/default", "unconfined")
	}
	if b.pick(3) == 1 {
		pod.Annotations["container.seccomp.security.alpha.kubernetes.io/ca"] = b.str("docker/default", "unconfined")
	}
	return pod
}

// checkAgreement asserts that, for every variant of every official check, the
// field enumerator reports fields exactly when the check fails.
func checkAgreement(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	for _, check := range policy.DefaultChecks() {
		for _, vc := range check.Versions {
			fn := fieldsFor(string(check.ID), vc.MinimumVersion)
			if fn == nil {
				t.Fatalf("no field enumerator for check %s", check.ID)
			}
			res := vc.CheckPod(&pod.ObjectMeta, &pod.Spec)
			errs := fn(&pod.ObjectMeta, &pod.Spec)
			if res.Allowed != (len(errs) == 0) {
				t.Fatalf("check %s %s: allowed=%v but %d field errors %+v (detail %q)",
					check.ID, vc.MinimumVersion.String(), res.Allowed, len(errs), errs, res.ForbiddenDetail)
			}
		}
	}
}

func TestFieldEnumeratorsAgreeWithOfficialChecks(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i++ {
		data := make([]byte, 96)
		rng.Read(data)
		checkAgreement(t, genPod(data))
	}
}

func FuzzFieldEnumerators(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte("restricted pod with many fields set to odd values"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgreement(t, genPod(data))
	})
}

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "no digits", in: "spec.hostNetwork", want: "spec.hostNetwork"},
		{name: "one index", in: "spec.containers[0].securityContext.privileged", want: "spec.containers[*].securityContext.privileged"},
		{name: "two indexes", in: "spec.containers[12].ports[3].hostPort", want: "spec.containers[*].ports[*].hostPort"},
		{name: "digits in key", in: "metadata.annotations[a/app12x]", want: "metadata.annotations[a/app*x]"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := normalizePath(tt.in); got != tt.want {
				t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

var (
	refDigits = regexp.MustCompile(`\d+`)
	refWords  = regexp.MustCompile(`[a-zA-Z]+`)
)

// FuzzPathHelpers compares the hand-written path helpers with the regular
// expressions Kyverno uses.
func FuzzPathHelpers(f *testing.F) {
	f.Add("spec.containers[0].securityContext.privileged")
	f.Add("spec.ephemeralContainers[10].ports[2].hostPort")
	f.Add("metadata.annotations[x]")
	f.Add("1.2.containers")
	f.Fuzz(func(t *testing.T, path string) {
		if got, want := normalizePath(path), refDigits.ReplaceAllString(path, "*"); got != want {
			t.Fatalf("normalizePath(%q) = %q, want %q", path, got, want)
		}
		words := refWords.FindAllString(path, -1)
		want := len(words) > 1 && (words[1] == "containers" || words[1] == "initContainers" || words[1] == "ephemeralContainers")
		if got := isContainerPath(path); got != want {
			t.Fatalf("isContainerPath(%q) = %v, want %v", path, got, want)
		}
	})
}

// TestDecodingPreservesChecks verifies that decoding a resource map (with its
// trimming of fields the checks do not read) yields the same failures as
// running the checks on the original typed pod, for pods and controllers.
func TestDecodingPreservesChecks(t *testing.T) {
	t.Parallel()
	checkers := []*Checker{
		mustCompile(t, Spec{Level: "restricted"}),
		mustCompile(t, Spec{Level: "restricted", Version: "v1.24"}),
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 500; i++ {
		data := make([]byte, 96)
		rng.Read(data)
		p := genPod(data)
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var podMap map[string]any
		if err := json.Unmarshal(raw, &podMap); err != nil {
			t.Fatal(err)
		}
		podMap["kind"] = "Pod"
		deployment := map[string]any{"kind": "Deployment", "spec": map[string]any{"template": map[string]any{
			"metadata": podMap["metadata"], "spec": podMap["spec"]}}}
		for _, c := range checkers {
			var want []string
			for _, r := range c.run(p) {
				want = append(want, r.check.id)
				for _, e := range r.errs {
					want = append(want, e.path)
				}
			}
			for _, res := range []map[string]any{podMap, deployment} {
				got, err := c.Evaluate(res)
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				var ids []string
				for _, f := range got.Failures {
					ids = append(ids, f.CheckID)
					for _, e := range f.errs {
						ids = append(ids, e.path)
					}
				}
				if !reflect.DeepEqual(ids, want) {
					t.Fatalf("%s: decoded failures %q, want %q", res["kind"], ids, want)
				}
			}
		}
	}
}
