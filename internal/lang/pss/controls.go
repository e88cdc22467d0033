package pss

import (
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/podspec"
)

// controlScope says where Kyverno allows an exclusion of a control to apply.
type controlScope uint8

const (
	// scopeMixed controls may be excluded with or without images.
	scopeMixed controlScope = iota
	// scopeContainer controls must name images in their exclusions.
	scopeContainer
	// scopePod controls must not name images in their exclusions.
	scopePod
)

// controlInfo describes one Pod Security Standards control as Kyverno names it.
type controlInfo struct {
	// checks are the IDs of the pod-security-admission checks of the control.
	checks []string
	scope  controlScope
	// restrictedOnly marks controls that are invalid in a baseline rule.
	restrictedOnly bool
	// fields are the restrictedField values an exclusion may name.
	fields []string
	// annotations is true when metadata.annotations[...] paths are valid fields.
	annotations bool
}

// perContainer expands a container-relative suffix into the restricted field
// for every container list, e.g. "securityContext.privileged" becomes
// "spec.containers[*].securityContext.privileged" and so on.
func perContainer(suffixes ...string) []string {
	out := make([]string, 0, len(suffixes)*len(podspec.ContainerGroups))
	for _, kind := range podspec.ContainerGroups {
		for _, s := range suffixes {
			out = append(out, "spec."+kind+"[*]."+s)
		}
	}
	return out
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// restrictedVolumeTypes are the volume sources the restricted profile forbids,
// as named in the field errors of the restrictedVolumes check.
var restrictedVolumeTypes = []string{
	"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
	"iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
	"fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
	"photonPersistentDisk", "portworxVolume", "scaleIO", "storageos", "unknown",
}

func volumeTypeFields() []string {
	out := make([]string, 0, len(restrictedVolumeTypes))
	for _, t := range restrictedVolumeTypes {
		out = append(out, "spec.volumes[*]."+t)
	}
	return out
}

// controls maps Kyverno control names (PodSecurityStandard.controlName) to
// their checks. It is an immutable lookup table.
var controls = map[string]controlInfo{
	"HostProcess": {
		checks: []string{"windowsHostProcess"},
		scope:  scopeMixed,
		fields: join([]string{"spec.securityContext.windowsOptions.hostProcess"},
			perContainer("securityContext.windowsOptions.hostProcess")),
	},
	"Host Namespaces": {
		checks: []string{"hostNamespaces"},
		scope:  scopePod,
		fields: []string{"spec.hostNetwork", "spec.hostPID", "spec.hostIPC"},
	},
	"Privileged Containers": {
		checks: []string{"privileged"},
		scope:  scopeContainer,
		fields: perContainer("securityContext.privileged"),
	},
	"Capabilities": {
		checks: []string{"capabilities_baseline", "capabilities_restricted"},
		scope:  scopeContainer,
		fields: perContainer("securityContext.capabilities.add", "securityContext.capabilities.drop"),
	},
	"HostPath Volumes": {
		checks: []string{"hostPathVolumes"},
		scope:  scopePod,
		fields: []string{"spec.volumes[*].hostPath"},
	},
	"Host Ports": {
		checks: []string{"hostPorts"},
		scope:  scopeContainer,
		fields: perContainer("ports[*].hostPort"),
	},
	"AppArmor": {
		checks: []string{"appArmorProfile"},
		scope:  scopePod,
		fields: join([]string{"spec.securityContext.appArmorProfile.type"},
			perContainer("securityContext.appArmorProfile.type")),
		annotations: true,
	},
	"SELinux": {
		checks: []string{"seLinuxOptions"},
		scope:  scopeMixed,
		fields: join([]string{
			"spec.securityContext.seLinuxOptions.type",
			"spec.securityContext.seLinuxOptions.user",
			"spec.securityContext.seLinuxOptions.role",
		}, perContainer(
			"securityContext.seLinuxOptions.type",
			"securityContext.seLinuxOptions.user",
			"securityContext.seLinuxOptions.role",
		)),
	},
	"/proc Mount Type": {
		checks: []string{"procMount", "procMount_restricted"},
		scope:  scopeContainer,
		fields: perContainer("securityContext.procMount"),
	},
	"Seccomp": {
		checks: []string{"seccompProfile_baseline", "seccompProfile_restricted"},
		scope:  scopeMixed,
		fields: join([]string{"spec.securityContext.seccompProfile.type"},
			perContainer("securityContext.seccompProfile.type")),
		annotations: true,
	},
	"Sysctls": {
		checks: []string{"sysctls"},
		scope:  scopePod,
		fields: []string{"spec.securityContext.sysctls[*].name"},
	},
	"Volume Types": {
		checks:         []string{"restrictedVolumes"},
		scope:          scopePod,
		restrictedOnly: true,
		fields:         volumeTypeFields(),
	},
	"Privilege Escalation": {
		checks:         []string{"allowPrivilegeEscalation"},
		scope:          scopeContainer,
		restrictedOnly: true,
		fields:         perContainer("securityContext.allowPrivilegeEscalation"),
	},
	"Running as Non-root": {
		checks:         []string{"runAsNonRoot"},
		scope:          scopeMixed,
		restrictedOnly: true,
		fields: join([]string{"spec.securityContext.runAsNonRoot"},
			perContainer("securityContext.runAsNonRoot")),
	},
	"Running as Non-root user": {
		checks:         []string{"runAsUser"},
		scope:          scopeMixed,
		restrictedOnly: true,
		fields: join([]string{"spec.securityContext.runAsUser"},
			perContainer("securityContext.runAsUser")),
	},
}

// hostProbesControl names the control of the hostProbesAndHostLifecycle check,
// which Kyverno has no control name for (it cannot be excluded).
const hostProbesControl = "Host Probes / Lifecycle Hooks"

// controlOfCheck maps a check ID to its control name (immutable).
var controlOfCheck = func() map[string]string {
	m := map[string]string{"hostProbesAndHostLifecycle": hostProbesControl}
	for name, info := range controls {
		for _, id := range info.checks {
			m[id] = name
		}
	}
	return m
}()

// controlNames lists the valid control names, sorted, for error messages.
var controlNames = func() string {
	names := make([]string, 0, len(controls))
	for name := range controls {
		names = append(names, name)
	}
	sort.Strings(names)
	return `"` + strings.Join(names, `", "`) + `"`
}()

// validField reports whether restrictedField can ever match a field error of
// the control.
func (c controlInfo) validField(field string) bool {
	for _, f := range c.fields {
		if f == field {
			return true
		}
	}
	return c.annotations && strings.HasPrefix(field, "metadata.annotations[") && strings.HasSuffix(field, "]")
}
