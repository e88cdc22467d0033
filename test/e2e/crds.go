package e2e

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyCRDs returns minimal ClusterPolicy and Policy CRDs of group (the
// schema keeps every field, as the chart's CRDs do for free-form parts),
// for tests that need the policy kinds without rendering the Helm chart.
func PolicyCRDs(group string) []*apiextensionsv1.CustomResourceDefinition {
	preserve := true
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object", XPreserveUnknownFields: &preserve,
	}}
	crd := func(kind, plural string, scope apiextensionsv1.ResourceScope) *apiextensionsv1.CustomResourceDefinition {
		return &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: group,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: plural[:len(plural)-len("ies")] + "y"},
				Scope: scope,
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true, Schema: schema,
				}},
			},
		}
	}
	return []*apiextensionsv1.CustomResourceDefinition{
		crd("ClusterPolicy", "clusterpolicies", apiextensionsv1.ClusterScoped),
		crd("Policy", "policies", apiextensionsv1.NamespaceScoped),
	}
}

func mustQty(s string) resource.Quantity { return resource.MustParse(s) }

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// ImagePolicyCRD returns a minimal sigstore ClusterImagePolicy CRD
// (policy.sigstore.dev/v1beta1, cluster scoped, schema preserving every
// field).
func ImagePolicyCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterimagepolicies.policy.sigstore.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "policy.sigstore.dev",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "ClusterImagePolicy", ListKind: "ClusterImagePolicyList",
				Plural: "clusterimagepolicies", Singular: "clusterimagepolicy"},
			Scope: apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1beta1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
}

// PolicyExceptionCRD returns a minimal kyverno.io PolicyException CRD
// (v2 stored, v2beta1 served, namespaced, schema preserving every field).
func PolicyExceptionCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object", XPreserveUnknownFields: &preserve,
	}}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "policyexceptions.kyverno.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "kyverno.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "PolicyException", ListKind: "PolicyExceptionList",
				Plural: "policyexceptions", Singular: "policyexception", ShortNames: []string{"polex"}},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v2", Served: true, Storage: true, Schema: schema},
				{Name: "v2beta1", Served: true, Storage: false, Schema: schema},
			},
		},
	}
}

// CELPolicyCRDs returns minimal policies.kyverno.io CRDs of the CEL kinds
// serve watches (ValidatingPolicy, MutatingPolicy, GeneratingPolicy:
// cluster scoped; PolicyException: namespaced), each serving v1 (stored),
// v1beta1 and v1alpha1 with the status subresource, schemas preserving
// every field, as the chart's do.
func CELPolicyCRDs() []*apiextensionsv1.CustomResourceDefinition {
	preserve := true
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
		Type: "object", XPreserveUnknownFields: &preserve,
	}}
	crd := func(kind, plural string, scope apiextensionsv1.ResourceScope) *apiextensionsv1.CustomResourceDefinition {
		var versions []apiextensionsv1.CustomResourceDefinitionVersion
		for _, v := range []string{"v1", "v1beta1", "v1alpha1"} {
			versions = append(versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: v, Served: true, Storage: v == "v1",
				Schema: schema, Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}})
		}
		return &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: plural + ".policies.kyverno.io"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "policies.kyverno.io",
				Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural,
					Singular: strings.ToLower(kind)},
				Scope:    scope,
				Versions: versions,
			},
		}
	}
	return []*apiextensionsv1.CustomResourceDefinition{
		crd("ValidatingPolicy", "validatingpolicies", apiextensionsv1.ClusterScoped),
		crd("MutatingPolicy", "mutatingpolicies", apiextensionsv1.ClusterScoped),
		crd("GeneratingPolicy", "generatingpolicies", apiextensionsv1.ClusterScoped),
		crd("PolicyException", "policyexceptions", apiextensionsv1.NamespaceScoped),
	}
}
