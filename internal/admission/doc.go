// Package admission serves Kubernetes admission webhooks: it decodes
// admission.k8s.io/v1 AdmissionReview requests, evaluates them with the
// engine against the current policy set and answers with the verdict,
// warnings and (later) patches.
package admission

import (
	// Placeholders keeping the dependencies pinned until the package is written.
	_ "github.com/prometheus/client_golang/prometheus"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/controller-runtime/pkg/webhook"
)
