// Package kubescape runs a Kubescape control library (the layout of the
// public kubescape/regolibrary) the way Kubescape runs it: it owns loading
// the library directory (frameworks, controls, rules with their Rego and
// filter Rego, the default configuration inputs), compiling each rule once
// with OPA together with the helper packages and the non-OPA builtins the
// rules use (written here), selecting each rule's input objects from its
// match and aggregator, evaluating it with data.postureControlInputs, and
// turning its deny responses into engine.Results (PolicyKind
// engine.KindKubescapeControl). It also runs a library's own rule tests
// (rules/<rule>/test/<case>) with the comparison the library's test runner
// uses.
//
// The package knows nothing of files other than the library's, nor of
// output formats: sources hand it decoded objects, sinks read its Results,
// Findings (with the raw rule responses) and Catalog.
package kubescape
