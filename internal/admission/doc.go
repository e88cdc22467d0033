// Package admission serves Kubernetes admission webhooks: it decodes
// admission.k8s.io/v1 AdmissionReview requests, evaluates them with the
// engine against the current policy set and answers with the verdict,
// warnings and (later) patches.
//
// The pieces:
//
//   - Handler (NewHandler) routes /validate, /validate/<group>, /mutate,
//     /healthz, /readyz and /metrics. Each webhook of the validating
//     configuration (one per failurePolicy and timeout: WebhookGroup) calls
//     its group's path, which evaluates that group's policies only (a
//     policy.Set.Select cached per set); plain /validate evaluates all. It reads the current policy.Set from a PolicySource on every
//     request (AtomicSource is a ready-made one the caller swaps when
//     policies change), namespace labels through a NamespaceLabelsFunc, and
//     reports Audit failures to a Recorder.
//   - Server (NewServer) serves any http.Handler over HTTPS (TLS 1.2+) with
//     net/http: certificates from files (reloaded when they change) or
//     self-generated (a CA plus a serving certificate for the service's DNS
//     names, written to a directory, rotated before expiry, the CA bundle
//     handed to OnCABundle). It shuts down gracefully when its context ends.
//
// Both webhooks evaluate through engine.Evaluate (/mutate in
// engine.PhaseMutate: verifyImages rules and ClusterImagePolicy digest
// pinning, each WebhookGroup's policies concurrently under that group's
// timeout, so webhookTimeoutSeconds holds there as on the group paths)
// and decide with engine.Decide; what policies read from the cluster
// (configMap and apiCall context entries, CEL resource.Get/List) comes
// from HandlerOptions.Cluster; this package only turns the
// engine.Decision into an AdmissionResponse (403 for a policy denial, 500
// when evaluation could not run), records its events and logs it.
// Decisions follow Kyverno: a failing rule of an Enforce policy denies with
// "resource Kind/ns/name was blocked due to the following policies" and
// every failing rule by policy; Audit failures are admitted with one
// warning per rule and an event; rule errors deny for Enforce rules unless
// the policy's failurePolicy is Ignore; ClusterImagePolicies deny with the
// image, its field, the policy and the reason.
//
// With HandlerOptions.VerificationCache, /mutate records the image
// verdicts of an admitted pod controller in its pod template (a record of
// internal/vcache, sealed with the caller's keys), and both webhooks hand
// the engine the verdicts of a valid record of the object under admission
// (engine.Input.Verified), so its images need no registry request; the
// metrics portcullis_verification_cache_hits_total, _misses_total{reason}
// and portcullis_verification_registry_requests count what it saved.
package admission
