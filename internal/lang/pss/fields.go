package pss

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
)

// fieldErr is one offending field of a failed check, the equivalent of an
// entry of the field error list Kyverno's fork of pod-security-admission
// attaches to a check result.
type fieldErr struct {
	// path is relative to the pod, e.g. spec.containers[0].securityContext.privileged.
	path string
	// required marks a missing value (Kyverno "Required value") rather than a
	// forbidden one.
	required bool
	// bad is the offending value: string, bool, int or []string; "" when none.
	bad any
	// kind is 1+index into podspec.ContainerGroups for container fields, 0 for pod fields.
	kind int8
	// name and image identify the container when kind != 0.
	name, image string
}

// fieldFunc enumerates the offending fields of one check variant. It returns
// nothing exactly when the corresponding official check allows the pod.
type fieldFunc func(meta *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr

// containerVisitor is called for every container with its list kind
// (1+index into podspec.ContainerGroups) and its path prefix, e.g. "spec.containers[2]".
type containerVisitor func(c *corev1.Container, kind int8, prefix string)

// visitContainers walks init, regular and ephemeral containers in that order.
func visitContainers(spec *corev1.PodSpec, visit containerVisitor) {
	for i := range spec.InitContainers {
		visit(&spec.InitContainers[i], 1, "spec.initContainers["+strconv.Itoa(i)+"]")
	}
	for i := range spec.Containers {
		visit(&spec.Containers[i], 2, "spec.containers["+strconv.Itoa(i)+"]")
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		visit(c, 3, "spec.ephemeralContainers["+strconv.Itoa(i)+"]")
	}
}

func podErr(path string, bad any) fieldErr {
	return fieldErr{path: path, bad: bad}
}

func containerErr(c *corev1.Container, kind int8, path string, bad any) fieldErr {
	return fieldErr{path: path, bad: bad, kind: kind, name: c.Name, image: c.Image}
}

func containerRequired(c *corev1.Container, kind int8, path string) fieldErr {
	return fieldErr{path: path, required: true, bad: "", kind: kind, name: c.Name, image: c.Image}
}

func isWindows(spec *corev1.PodSpec) bool {
	return spec.OS != nil && spec.OS.Name == corev1.Windows
}

func inUserNamespace(spec *corev1.PodSpec) bool {
	return spec.HostUsers != nil && !*spec.HostUsers
}

func atLeast(v api.Version, major, minor int) bool {
	return !v.Older(api.MajorMinorVersion(major, minor))
}

// fieldsFor returns the field enumerator of check id in the variant whose
// minimum version is minVersion, or nil when the check is unknown.
func fieldsFor(id string, minVersion api.Version) fieldFunc {
	switch id {
	case "allowPrivilegeEscalation":
		return privilegeEscalationFields(atLeast(minVersion, 1, 25))
	case "appArmorProfile":
		return appArmorFields
	case "capabilities_baseline":
		return capabilitiesBaselineFields
	case "capabilities_restricted":
		return capabilitiesRestrictedFields(atLeast(minVersion, 1, 25))
	case "hostNamespaces":
		return hostNamespacesFields
	case "hostPathVolumes":
		return hostPathFields
	case "hostPorts":
		return hostPortsFields
	case "hostProbesAndHostLifecycle":
		return hostProbesFields
	case "privileged":
		return privilegedFields
	case "procMount":
		return procMountFields(atLeast(minVersion, 1, 35))
	case "procMount_restricted":
		return procMountFields(false)
	case "restrictedVolumes":
		return restrictedVolumesFields
	case "runAsNonRoot":
		return runAsNonRootFields(atLeast(minVersion, 1, 35))
	case "runAsUser":
		return runAsUserFields(atLeast(minVersion, 1, 35))
	case "seLinuxOptions":
		return seLinuxFields(atLeast(minVersion, 1, 31))
	case "seccompProfile_baseline":
		if atLeast(minVersion, 1, 19) {
			return seccompBaselineFields
		}
		return seccompAnnotationFields
	case "seccompProfile_restricted":
		return seccompRestrictedFields(atLeast(minVersion, 1, 25))
	case "sysctls":
		return sysctlsFields(allowedSysctls(minVersion))
	case "windowsHostProcess":
		return hostProcessFields
	}
	return nil
}

func privilegeEscalationFields(windowsExempt bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if windowsExempt && isWindows(spec) {
			return nil
		}
		var errs []fieldErr
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			path := prefix + ".securityContext.allowPrivilegeEscalation"
			switch {
			case c.SecurityContext == nil:
				errs = append(errs, containerRequired(c, kind, path))
			case c.SecurityContext.AllowPrivilegeEscalation == nil:
				errs = append(errs, containerErr(c, kind, path, "nil"))
			case *c.SecurityContext.AllowPrivilegeEscalation:
				errs = append(errs, containerErr(c, kind, path, true))
			}
		})
		return errs
	}
}

func appArmorTypeAllowed(t corev1.AppArmorProfileType) bool {
	return t == corev1.AppArmorProfileTypeRuntimeDefault || t == corev1.AppArmorProfileTypeLocalhost
}

func appArmorFields(meta *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	if sc := spec.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !appArmorTypeAllowed(sc.AppArmorProfile.Type) {
		errs = append(errs, podErr("spec.securityContext.appArmorProfile.type", string(sc.AppArmorProfile.Type)))
	}
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		if sc := c.SecurityContext; sc != nil && sc.AppArmorProfile != nil && !appArmorTypeAllowed(sc.AppArmorProfile.Type) {
			errs = append(errs, containerErr(c, kind, prefix+".securityContext.appArmorProfile.type", string(sc.AppArmorProfile.Type)))
		}
	})
	for _, k := range sortedKeys(meta.Annotations) {
		v := meta.Annotations[k]
		if !strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) {
			continue
		}
		if v == "" || v == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault ||
			strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix) {
			continue
		}
		errs = append(errs, podErr("metadata.annotations["+k+"]", v))
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// baselineCapabilities are the capabilities the baseline profile allows adding.
var baselineCapabilities = map[corev1.Capability]bool{
	"AUDIT_WRITE": true, "CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true,
	"FSETID": true, "KILL": true, "MKNOD": true, "NET_BIND_SERVICE": true,
	"SETFCAP": true, "SETGID": true, "SETPCAP": true, "SETUID": true,
	"SYS_CHROOT": true,
}

func capabilitiesBaselineFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			return
		}
		var bad []string
		for _, cap := range c.SecurityContext.Capabilities.Add {
			if !baselineCapabilities[cap] {
				bad = append(bad, string(cap))
			}
		}
		if len(bad) > 0 {
			errs = append(errs, containerErr(c, kind, prefix+".securityContext.capabilities.add", bad))
		}
	})
	return errs
}

func capabilitiesRestrictedFields(windowsExempt bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if windowsExempt && isWindows(spec) {
			return nil
		}
		var errs []fieldErr
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
				errs = append(errs, containerRequired(c, kind, prefix+".securityContext.capabilities.drop"))
				return
			}
			caps := c.SecurityContext.Capabilities
			droppedAll := false
			for _, d := range caps.Drop {
				if d == "ALL" {
					droppedAll = true
					break
				}
			}
			if !droppedAll {
				dropped := make([]string, len(caps.Drop))
				for i, d := range caps.Drop {
					dropped[i] = string(d)
				}
				errs = append(errs, containerErr(c, kind, prefix+".securityContext.capabilities.drop", dropped))
			}
			var bad []string
			for _, a := range caps.Add {
				if a != "NET_BIND_SERVICE" {
					bad = append(bad, string(a))
				}
			}
			if len(bad) > 0 {
				errs = append(errs, containerErr(c, kind, prefix+".securityContext.capabilities.add", bad))
			}
		})
		return errs
	}
}

func hostNamespacesFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	if spec.HostNetwork {
		errs = append(errs, podErr("spec.hostNetwork", true))
	}
	if spec.HostPID {
		errs = append(errs, podErr("spec.hostPID", true))
	}
	if spec.HostIPC {
		errs = append(errs, podErr("spec.hostIPC", true))
	}
	return errs
}

func hostPathFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	for i, v := range spec.Volumes {
		if v.HostPath != nil {
			errs = append(errs, podErr("spec.volumes["+strconv.Itoa(i)+"].hostPath", v.HostPath.Path))
		}
	}
	return errs
}

func hostPortsFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		for j, p := range c.Ports {
			if p.HostPort != 0 {
				errs = append(errs, containerErr(c, kind, prefix+".ports["+strconv.Itoa(j)+"].hostPort", int(p.HostPort)))
			}
		}
	})
	return errs
}

func hostProbesFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		probe := func(name string, p *corev1.Probe) {
			if p == nil {
				return
			}
			if p.HTTPGet != nil && p.HTTPGet.Host != "" {
				errs = append(errs, containerErr(c, kind, prefix+"."+name+".httpGet.host", p.HTTPGet.Host))
			}
			if p.TCPSocket != nil && p.TCPSocket.Host != "" {
				errs = append(errs, containerErr(c, kind, prefix+"."+name+".tcpSocket.host", p.TCPSocket.Host))
			}
		}
		probe("livenessProbe", c.LivenessProbe)
		probe("readinessProbe", c.ReadinessProbe)
		probe("startupProbe", c.StartupProbe)
		if c.Lifecycle == nil {
			return
		}
		hook := func(name string, h *corev1.LifecycleHandler) {
			if h == nil {
				return
			}
			if h.HTTPGet != nil && h.HTTPGet.Host != "" {
				errs = append(errs, containerErr(c, kind, prefix+".lifecycle."+name+".httpGet.host", h.HTTPGet.Host))
			}
			if h.TCPSocket != nil && h.TCPSocket.Host != "" {
				errs = append(errs, containerErr(c, kind, prefix+".lifecycle."+name+".tcpSocket.host", h.TCPSocket.Host))
			}
		}
		hook("postStart", c.Lifecycle.PostStart)
		hook("preStop", c.Lifecycle.PreStop)
	})
	return errs
}

func privilegedFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, containerErr(c, kind, prefix+".securityContext.privileged", true))
		}
	})
	return errs
}

func procMountFields(userNamespaceRelax bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if userNamespaceRelax && inUserNamespace(spec) {
			return nil
		}
		var errs []fieldErr
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			if sc := c.SecurityContext; sc != nil && sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
				errs = append(errs, containerErr(c, kind, prefix+".securityContext.procMount", string(*sc.ProcMount)))
			}
		})
		return errs
	}
}

// restrictedVolumeType names the forbidden source of a volume, or "" when the
// volume uses a source the restricted profile allows.
func restrictedVolumeType(v *corev1.Volume) string {
	switch {
	case v.ConfigMap != nil, v.CSI != nil, v.DownwardAPI != nil, v.EmptyDir != nil,
		v.Ephemeral != nil, v.Image != nil, v.PersistentVolumeClaim != nil,
		v.Projected != nil, v.Secret != nil:
		return ""
	case v.HostPath != nil:
		return "hostPath"
	case v.GCEPersistentDisk != nil:
		return "gcePersistentDisk"
	case v.AWSElasticBlockStore != nil:
		return "awsElasticBlockStore"
	case v.GitRepo != nil:
		return "gitRepo"
	case v.NFS != nil:
		return "nfs"
	case v.ISCSI != nil:
		return "iscsi"
	case v.Glusterfs != nil:
		return "glusterfs"
	case v.RBD != nil:
		return "rbd"
	case v.FlexVolume != nil:
		return "flexVolume"
	case v.Cinder != nil:
		return "cinder"
	case v.CephFS != nil:
		return "cephfs"
	case v.Flocker != nil:
		return "flocker"
	case v.FC != nil:
		return "fc"
	case v.AzureFile != nil:
		return "azureFile"
	case v.VsphereVolume != nil:
		return "vsphereVolume"
	case v.Quobyte != nil:
		return "quobyte"
	case v.AzureDisk != nil:
		return "azureDisk"
	case v.PhotonPersistentDisk != nil:
		return "photonPersistentDisk"
	case v.PortworxVolume != nil:
		return "portworxVolume"
	case v.ScaleIO != nil:
		return "scaleIO"
	case v.StorageOS != nil:
		return "storageos"
	}
	return "unknown"
}

func restrictedVolumesFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	for i := range spec.Volumes {
		if t := restrictedVolumeType(&spec.Volumes[i]); t != "" {
			errs = append(errs, podErr("spec.volumes["+strconv.Itoa(i)+"]."+t, ""))
		}
	}
	return errs
}

func runAsNonRootFields(userNamespaceRelax bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if userNamespaceRelax && inUserNamespace(spec) {
			return nil
		}
		var explicit, implicit []fieldErr
		podNonRoot := false
		if sc := spec.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
			if *sc.RunAsNonRoot {
				podNonRoot = true
			} else {
				explicit = append(explicit, podErr("spec.securityContext.runAsNonRoot", false))
			}
		}
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			path := prefix + ".securityContext.runAsNonRoot"
			if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
				if !*sc.RunAsNonRoot {
					explicit = append(explicit, containerErr(c, kind, path, false))
				}
				return
			}
			if !podNonRoot {
				implicit = append(implicit, containerRequired(c, kind, path))
			}
		})
		return append(explicit, implicit...)
	}
}

func runAsUserFields(userNamespaceRelax bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if userNamespaceRelax && inUserNamespace(spec) {
			return nil
		}
		var errs []fieldErr
		if sc := spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			errs = append(errs, podErr("spec.securityContext.runAsUser", 0))
		}
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
				errs = append(errs, containerErr(c, kind, prefix+".securityContext.runAsUser", 0))
			}
		})
		return errs
	}
}

func seLinuxTypeAllowed(t string, engineType bool) bool {
	switch t {
	case "", "container_t", "container_init_t", "container_kvm_t":
		return true
	case "container_engine_t":
		return engineType
	}
	return false
}

func seLinuxFields(engineType bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		var errs []fieldErr
		check := func(o *corev1.SELinuxOptions, prefix string, mk func(path string, bad any) fieldErr) {
			if !seLinuxTypeAllowed(o.Type, engineType) {
				errs = append(errs, mk(prefix+".seLinuxOptions.type", o.Type))
			}
			if o.User != "" {
				errs = append(errs, mk(prefix+".seLinuxOptions.user", o.User))
			}
			if o.Role != "" {
				errs = append(errs, mk(prefix+".seLinuxOptions.role", o.Role))
			}
		}
		if sc := spec.SecurityContext; sc != nil && sc.SELinuxOptions != nil {
			check(sc.SELinuxOptions, "spec.securityContext", podErr)
		}
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			if sc := c.SecurityContext; sc != nil && sc.SELinuxOptions != nil {
				check(sc.SELinuxOptions, prefix+".securityContext", func(path string, bad any) fieldErr {
					return containerErr(c, kind, path, bad)
				})
			}
		})
		return errs
	}
}

func seccompTypeAllowed(t corev1.SeccompProfileType) bool {
	return t == corev1.SeccompProfileTypeLocalhost || t == corev1.SeccompProfileTypeRuntimeDefault
}

const (
	seccompPodAnnotation             = "seccomp.security.alpha.kubernetes.io/pod"
	seccompContainerAnnotationPrefix = "container.seccomp.security.alpha.kubernetes.io/"
)

func seccompAnnotationAllowed(v string) bool {
	return v == corev1.SeccompProfileRuntimeDefault || v == corev1.DeprecatedSeccompProfileDockerDefault ||
		strings.HasPrefix(v, corev1.SeccompLocalhostProfileNamePrefix)
}

// seccompAnnotationFields mirrors the v1.0 baseline check on the alpha
// seccomp annotations.
func seccompAnnotationFields(meta *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	if v, ok := meta.Annotations[seccompPodAnnotation]; ok && !seccompAnnotationAllowed(v) {
		errs = append(errs, podErr("metadata.annotations["+seccompPodAnnotation+"]", v))
	}
	visitContainers(spec, func(c *corev1.Container, kind int8, _ string) {
		key := seccompContainerAnnotationPrefix + c.Name
		if v, ok := meta.Annotations[key]; ok && !seccompAnnotationAllowed(v) {
			errs = append(errs, containerErr(c, kind, "metadata.annotations["+key+"]", v))
		}
	})
	return errs
}

func seccompBaselineFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	if sc := spec.SecurityContext; sc != nil && sc.SeccompProfile != nil && !seccompTypeAllowed(sc.SeccompProfile.Type) {
		errs = append(errs, podErr("spec.securityContext.seccompProfile.type", string(sc.SeccompProfile.Type)))
	}
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil && !seccompTypeAllowed(sc.SeccompProfile.Type) {
			errs = append(errs, containerErr(c, kind, prefix+".securityContext.seccompProfile.type", string(sc.SeccompProfile.Type)))
		}
	})
	return errs
}

func seccompRestrictedFields(windowsExempt bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if windowsExempt && isWindows(spec) {
			return nil
		}
		var explicit, implicit []fieldErr
		podSet := false
		if sc := spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			if seccompTypeAllowed(sc.SeccompProfile.Type) {
				podSet = true
			} else {
				explicit = append(explicit, podErr("spec.securityContext.seccompProfile.type", string(sc.SeccompProfile.Type)))
			}
		}
		visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
			path := prefix + ".securityContext.seccompProfile.type"
			if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
				if !seccompTypeAllowed(sc.SeccompProfile.Type) {
					explicit = append(explicit, containerErr(c, kind, path, string(sc.SeccompProfile.Type)))
				}
				return
			}
			if !podSet {
				implicit = append(implicit, containerRequired(c, kind, path))
			}
		})
		return append(explicit, implicit...)
	}
}

// sysctlsByVersion lists the safe sysctls added by each check variant.
var sysctlsByVersion = []struct {
	major, minor int
	names        []string
}{
	{1, 0, []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}},
	{1, 27, []string{"net.ipv4.ip_local_reserved_ports"}},
	{1, 29, []string{"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}},
	{1, 32, []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}},
	{1, 37, []string{"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}},
}

// allowedSysctls returns the safe sysctls of the sysctls check variant with the
// given minimum version.
func allowedSysctls(minVersion api.Version) map[string]bool {
	allowed := map[string]bool{}
	for _, step := range sysctlsByVersion {
		if !atLeast(minVersion, step.major, step.minor) {
			break
		}
		for _, n := range step.names {
			allowed[n] = true
		}
	}
	return allowed
}

func sysctlsFields(allowed map[string]bool) fieldFunc {
	return func(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
		if spec.SecurityContext == nil {
			return nil
		}
		var errs []fieldErr
		for i, s := range spec.SecurityContext.Sysctls {
			if !allowed[s.Name] {
				errs = append(errs, podErr("spec.securityContext.sysctls["+strconv.Itoa(i)+"].name", s.Name))
			}
		}
		return errs
	}
}

func hostProcessFields(_ *metav1.ObjectMeta, spec *corev1.PodSpec) []fieldErr {
	var errs []fieldErr
	if sc := spec.SecurityContext; sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
		errs = append(errs, podErr("spec.securityContext.windowsOptions.hostProcess", true))
	}
	visitContainers(spec, func(c *corev1.Container, kind int8, prefix string) {
		if sc := c.SecurityContext; sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
			errs = append(errs, containerErr(c, kind, prefix+".securityContext.windowsOptions.hostProcess", true))
		}
	})
	return errs
}
