// Package mutate implements the patch side of Kyverno mutate rules on
// decoded JSON objects (map[string]any): the anchors of
// patchStrategicMerge (conditional "(key)", global "<(key)" and
// add-if-not-present "+(key)"), evaluated against the resource and
// stripped before the merge as Kyverno does; the strategic merge itself
// (k8s.io/apimachinery's strategicpatch with the typed schema of built-in
// kinds, kustomize kyaml merge2 for other kinds, as Kyverno); RFC 6902 JSON patches
// (github.com/evanphx/json-patch/v5, with Kyverno's apply options); and the
// RFC 6902 difference between two objects (gomodules.xyz/jsonpatch/v2),
// which is what a mutate result carries.
//
// It knows nothing of policies, variables or rules: the engine substitutes
// variables, iterates foreach lists and decides the rule's outcome.
package mutate
