package policy

import (
	"fmt"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Webhook timeouts the API server accepts, in seconds.
const (
	MinWebhookTimeout = 1
	MaxWebhookTimeout = 30
)

// FailurePolicy is the policy's webhook failure policy:
// spec.webhookConfiguration.failurePolicy, else the deprecated
// spec.failurePolicy (as Kyverno 1.13 reads them), else "" (the
// configured default, Fail unless told otherwise).
func (p *Policy) FailurePolicy() admissionregistrationv1.FailurePolicyType {
	s := &p.Spec.Spec
	if wc := s.WebhookConfiguration; wc != nil && wc.FailurePolicy != nil {
		return admissionregistrationv1.FailurePolicyType(*wc.FailurePolicy)
	}
	if s.FailurePolicy != nil {
		return admissionregistrationv1.FailurePolicyType(*s.FailurePolicy)
	}
	return ""
}

// WebhookTimeoutSeconds is the policy's webhook timeout:
// spec.webhookConfiguration.timeoutSeconds, else the deprecated
// spec.webhookTimeoutSeconds, else 0 (the configured default).
func (p *Policy) WebhookTimeoutSeconds() int32 {
	s := &p.Spec.Spec
	if wc := s.WebhookConfiguration; wc != nil && wc.TimeoutSeconds != nil {
		return *wc.TimeoutSeconds
	}
	if s.WebhookTimeoutSeconds != nil {
		return *s.WebhookTimeoutSeconds
	}
	return 0
}

// checkWebhookSettings validates the webhook settings of a Kyverno policy:
// failure policies Fail or Ignore, timeouts the API server accepts (a
// timeout it refuses would make the whole webhook configuration
// unappliable, leaving every other policy's registration stale).
func checkWebhookSettings(s *kyvernov1.Spec, fail func(field, msg string)) {
	if msg, bad := badFailurePolicy(s.FailurePolicy); bad {
		fail("spec.failurePolicy", msg)
	}
	if msg, bad := badTimeout(s.WebhookTimeoutSeconds); bad {
		fail("spec.webhookTimeoutSeconds", msg)
	}
	wc := s.WebhookConfiguration
	if wc == nil {
		return
	}
	if msg, bad := badFailurePolicy(wc.FailurePolicy); bad {
		fail("spec.webhookConfiguration.failurePolicy", msg)
	}
	if msg, bad := badTimeout(wc.TimeoutSeconds); bad {
		fail("spec.webhookConfiguration.timeoutSeconds", msg)
	}
}

// badFailurePolicy words a failure policy other than Fail or Ignore
// (bad is false when fp is nil or one of them).
func badFailurePolicy[T ~string](fp *T) (msg string, bad bool) {
	if fp == nil || *fp == "Fail" || *fp == "Ignore" {
		return "", false
	}
	return fmt.Sprintf("unknown failure policy %q (want Fail or Ignore)", string(*fp)), true
}

// badTimeout words a webhook timeout outside what the API server accepts
// (bad is false when t is nil or within it).
func badTimeout(t *int32) (msg string, bad bool) {
	if t == nil || (*t >= MinWebhookTimeout && *t <= MaxWebhookTimeout) {
		return "", false
	}
	return fmt.Sprintf("timeout %d is out of range (want %d to %d seconds)", *t, MinWebhookTimeout, MaxWebhookTimeout), true
}

// checkWebhookTimeout is the error of a CEL policy's
// spec.webhookConfiguration.timeoutSeconds outside what the API server
// accepts (nil when wc or its timeout is unset or within it).
func checkWebhookTimeout(wc *policiesv1.WebhookConfiguration) *Error {
	if wc == nil {
		return nil
	}
	if msg, bad := badTimeout(wc.TimeoutSeconds); bad {
		return &Error{Field: "spec.webhookConfiguration.timeoutSeconds", Msg: msg}
	}
	return nil
}

// compileWebhookMatch compiles spec.webhookConfiguration.matchConditions
// in the API server's environment (object, oldObject, request,
// authorizer), as the API server evaluates them on a webhook: nil when
// the policy has none.
func (c *compiler) compileWebhookMatch(name string, s *kyvernov1.Spec) (*cel.Program, Errors) {
	wc := s.WebhookConfiguration
	if wc == nil || len(wc.MatchConditions) == 0 {
		return nil, nil
	}
	const field = "spec.webhookConfiguration"
	cc, err := c.cel.get()
	if err != nil {
		return nil, Errors{{Policy: name, Field: field, Msg: "cannot build the CEL environment", Err: err}}
	}
	prog, err := cc.Compile(cel.Spec{Dialect: cel.Kubernetes, FieldPrefix: field + ".",
		MatchConditions: toCELConditions(wc.MatchConditions)})
	if err != nil {
		return nil, celErrors(Error{Policy: name, Field: field}, err)
	}
	return prog, nil
}
