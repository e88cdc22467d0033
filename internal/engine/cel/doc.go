// Package cel compiles and evaluates CEL expressions with the environment
// and libraries the Kubernetes API server uses, plus Kyverno's CEL
// libraries, for validate.cel rules, ValidatingPolicy and
// ValidatingAdmissionPolicy.
package cel

import (
	// Placeholders keeping the dependencies pinned until the package is written.
	_ "github.com/google/cel-go/cel"
	_ "k8s.io/apiserver/pkg/cel/environment"
	_ "k8s.io/apiserver/pkg/cel/library"
)
