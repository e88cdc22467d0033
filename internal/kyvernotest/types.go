package kyvernotest

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TestFile is a cli.kyverno.io/v1alpha1 Test.
type TestFile struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	// Name is the legacy top-level name.
	Name      string           `json:"name,omitempty"`
	Policies  []string         `json:"policies"`
	Resources []string         `json:"resources"`
	Variables string           `json:"variables,omitempty"`
	UserInfo  string           `json:"userinfo,omitempty"`
	Context   string           `json:"context,omitempty"`
	Values    *ValuesSpec      `json:"values,omitempty"`
	Results   []ResultSpec     `json:"results"`
	Checks    []map[string]any `json:"checks,omitempty"`
	// Exceptions are files of PolicyExceptions applied to every policy
	// of the test, as kyverno test applies them.
	Exceptions []string `json:"exceptions,omitempty"`
	// Fields of kyverno test files Portcullis does not use yet; declared
	// so that strict decoding accepts them.
	TargetResources  []string `json:"targetResources,omitempty"`
	ClusterResources []string `json:"clusterResources,omitempty"`
}

// ResultSpec is one expected result.
type ResultSpec struct {
	Policy    string   `json:"policy"`
	Rule      string   `json:"rule,omitempty"`
	Resource  string   `json:"resource,omitempty"`
	Resources []string `json:"resources,omitempty"`
	Kind      string   `json:"kind,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Result    string   `json:"result,omitempty"`
	// Status is the legacy name of Result.
	Status          string `json:"status,omitempty"`
	PatchedResource string `json:"patchedResource,omitempty"`
	// PatchedResources is the newer spelling of PatchedResource: the
	// file holding the resource as the policy's mutate rules must leave it.
	PatchedResources            string `json:"patchedResources,omitempty"`
	GeneratedResource           string `json:"generatedResource,omitempty"`
	CloneSource                 string `json:"cloneSourceResource,omitempty"`
	IsValidatingAdmissionPolicy bool   `json:"isValidatingAdmissionPolicy,omitempty"`
	IsValidatingPolicy          bool   `json:"isValidatingPolicy,omitempty"`
	IsMutatingPolicy            bool   `json:"isMutatingPolicy,omitempty"`
	IsGeneratingPolicy          bool   `json:"isGeneratingPolicy,omitempty"`
	IsImageValidatingPolicy     bool   `json:"isImageValidatingPolicy,omitempty"`
}

// ValuesSpec is a cli.kyverno.io/v1alpha1 Values document (or the inline
// values of a Test).
type ValuesSpec struct {
	GlobalValues      map[string]any    `json:"globalValues,omitempty"`
	Policies          []PolicyValues    `json:"policies,omitempty"`
	NamespaceSelector []NamespaceLabels `json:"namespaceSelector,omitempty"`
	// Namespaces are Namespace objects (CEL namespaceObject, labels).
	Namespaces   []map[string]any `json:"namespaces,omitempty"`
	Subresources []map[string]any `json:"subresources,omitempty"`
}

// PolicyValues are the values of one policy.
type PolicyValues struct {
	Name      string           `json:"name"`
	Rules     []RuleValues     `json:"rules,omitempty"`
	Resources []ResourceValues `json:"resources,omitempty"`
}

// RuleValues are the values of one rule.
type RuleValues struct {
	Name          string         `json:"name"`
	Values        map[string]any `json:"values,omitempty"`
	ForeachValues map[string]any `json:"foreachValues,omitempty"`
}

// ResourceValues are the values for one resource.
type ResourceValues struct {
	Name   string         `json:"name"`
	Values map[string]any `json:"values,omitempty"`
}

// NamespaceLabels gives the labels of a namespace, for namespaceSelector.
type NamespaceLabels struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

// UserInfoSpec is a cli.kyverno.io/v1alpha1 UserInfo document.
type UserInfoSpec struct {
	Roles        []string `json:"roles,omitempty"`
	ClusterRoles []string `json:"clusterRoles,omitempty"`
	UserInfo     struct {
		Username string   `json:"username,omitempty"`
		UID      string   `json:"uid,omitempty"`
		Groups   []string `json:"groups,omitempty"`
	} `json:"userInfo"`
}
