// Package serve wires `portcullis serve` onto a controller-runtime
// Manager. It owns the process layout, not the logic of its parts:
//
//   - the HTTPS admission webhook server (admission.Server, registered as
//     the manager's webhook server) and the plain-HTTP probe and metrics
//     server run on every replica;
//   - the policy watcher (policysource) and, with a shared certificate
//     Secret, the certificate loader run on every replica;
//   - the webhook-configuration reconciler and the certificate issuer,
//     the work that must have a single writer, run only on the elected
//     leader (every replica when leader election is off);
//   - Kubernetes Events come from the manager's event broadcaster;
//   - with the verification cache, the signing keys are read (and created
//     or rotated) from a Secret by every replica (vcachekeys.go);
//   - what policies read from the cluster at admission (configMap and
//     apiCall context entries, CEL resource.Get/List) is answered from the
//     manager's informer cache, an informer per kind started on first use
//     (clusterstore.go); that cache keeps objects without managedFields
//     and Pods sharing their equal resource lists, labels and tolerations
//     (podtransform.go).
//
// Readiness (/readyz) reports the policy set loaded and a serving
// certificate available; liveness (/healthz) that the process answers.
package serve
