// Package webhookconfig computes and applies the ValidatingWebhookConfiguration
// Portcullis manages for itself: rules derived from the kinds the loaded
// policies can match (so unrelated requests never reach the webhook), one
// webhook per (failurePolicy, timeout) group, excluded namespaces, the
// namespaces a group's rules are confined to (namespaced Policies, exact
// match namespaces), the CA bundle of the serving certificate, and a
// webhook that validates the policy resources themselves.
package webhookconfig
