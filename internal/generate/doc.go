// Package generate owns the writes policies make to other objects than
// the admitted one: resource generation (Kyverno generate rules and
// GeneratingPolicies) and Kyverno's mutate existing resources.
//
// The pure part (Desired) turns one trigger object into the objects the
// policies want to exist for it: the engine evaluates the rules in
// engine.PhaseGenerate (match, context, preconditions, variables, clone
// sources read through engine.Input.Resources) and Desired adds the labels
// Kyverno puts on generated resources, so that they can be found again:
//
//	app.kubernetes.io/managed-by: portcullis      (Kyverno: kyverno)
//	generate.kyverno.io/policy-name, policy-namespace, rule-name
//	generate.kyverno.io/trigger-group, trigger-version, trigger-kind,
//	  trigger-namespace, trigger-uid (and trigger-name when the name is a
//	  valid label value)
//	generate.portcullis.dev/policy-kind            (ours: ClusterPolicy,
//	  Policy or GeneratingPolicy, whose names may collide)
//
// Clones also carry Kyverno's generate.kyverno.io/source-* labels, set by
// the engine, which alone knows the source.
//
// The live part (Controller) is a leader-only Runnable that creates and
// keeps the generated objects through the API server (see controller.go).
// It also runs Kyverno mutate rules with targets (mutate existing
// resources) on the same triggers and queue: the engine patches the
// targets (engine.PhaseMutateExisting) and the controller updates them
// (see mutateexisting.go).
package generate
