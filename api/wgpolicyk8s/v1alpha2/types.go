package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and Version of the report resources.
const (
	Group   = "wgpolicyk8s.io"
	Version = "v1alpha2"
	// APIVersion is Group/Version.
	APIVersion = Group + "/" + Version
	// KindPolicyReport is the namespaced report; KindClusterPolicyReport
	// the cluster-scoped one.
	KindPolicyReport        = "PolicyReport"
	KindClusterPolicyReport = "ClusterPolicyReport"
)

// Result values of a PolicyReportResult.
const (
	StatusPass  = "pass"
	StatusFail  = "fail"
	StatusWarn  = "warn"
	StatusError = "error"
	StatusSkip  = "skip"
)

// PolicyReport is a PolicyReport or a ClusterPolicyReport (the two share
// their shape; Kind tells them apart, and a ClusterPolicyReport has no
// namespace).
type PolicyReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Scope is the one object the report is about, when it is about one.
	Scope *corev1.ObjectReference `json:"scope,omitempty"`
	// ScopeSelector selects the objects the report is about.
	ScopeSelector *metav1.LabelSelector `json:"scopeSelector,omitempty"`
	// Summary counts the results by status, including those not listed.
	Summary Summary `json:"summary,omitempty"`
	// Results are the listed results.
	Results []Result `json:"results,omitempty"`
}

// Summary counts results by status.
type Summary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

// Result is one policy rule's outcome on one or more resources.
type Result struct {
	// Source is the tool that produced the result ("portcullis").
	Source string `json:"source,omitempty"`
	// Policy and Rule name the check.
	Policy string `json:"policy"`
	Rule   string `json:"rule,omitempty"`
	// Category and Severity come from the policy (severity: critical,
	// high, medium, low or info).
	Category string `json:"category,omitempty"`
	Severity string `json:"severity,omitempty"`
	// Timestamp is when the result was first observed with this outcome.
	Timestamp metav1.Timestamp `json:"timestamp,omitempty"`
	// Result is pass, fail, warn, error or skip.
	Result string `json:"result,omitempty"`
	// Scored is false for results that do not count against the score.
	Scored bool `json:"scored,omitempty"`
	// Resources are the objects the result is about.
	Resources []corev1.ObjectReference `json:"resources,omitempty"`
	// Message explains the outcome.
	Message string `json:"message,omitempty"`
	// Properties carry the rest (the failing field path, the policy kind,
	// image and digest).
	Properties map[string]string `json:"properties,omitempty"`
}
