package kinds

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Info describes the resource of a kind.
type Info struct {
	// Resource is the lower-case plural resource name ("pods").
	Resource string
	// Namespaced is false for cluster-scoped kinds.
	Namespaced bool
}

// clusterScoped lists the built-in cluster-scoped kinds (and common CRDs).
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "StorageClass": true, "CSIDriver": true,
	"CSINode": true, "VolumeAttachment": true, "PriorityClass": true, "RuntimeClass": true,
	"IngressClass": true, "CustomResourceDefinition": true, "APIService": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"ClusterPolicy": true, "ClusterPolicyReport": true, "ClusterIssuer": true,
	"ValidatingPolicy": true, "MutatingPolicy": true, "GeneratingPolicy": true,
	"ImageValidatingPolicy": true, "DeletingPolicy": true, "ClusterImagePolicy": true,
	"SelfSubjectAccessReview": true, "SelfSubjectRulesReview": true, "SubjectAccessReview": true,
	"TokenReview": true, "IPAddress": true, "ServiceCIDR": true, "DeviceClass": true,
}

// irregular lists plurals the guessing rule gets wrong.
var irregular = map[string]string{
	"Endpoints":         "endpoints",
	"PodSecurityPolicy": "podsecuritypolicies",
}

// Lookup returns the resource of kind in apiVersion ("apps/v1", "v1").
func Lookup(apiVersion, kind string) Info {
	info := Info{Namespaced: !clusterScoped[kind]}
	if r, ok := irregular[kind]; ok {
		info.Resource = r
		return info
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		gv = schema.GroupVersion{}
	}
	plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(kind))
	info.Resource = plural.Resource
	return info
}

// GroupVersion splits an apiVersion into group and version ("v1" has group "").
func GroupVersion(apiVersion string) (group, version string) {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i], apiVersion[i+1:]
	}
	return "", apiVersion
}
