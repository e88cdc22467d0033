// Package manifest reads Kubernetes manifests: multi-document YAML or JSON
// files, directories of them, and standard input, expanding List kinds.
//
// Documents come back as decoded JSON values (map[string]any) together
// with where they came from, so every later error can name its source.
package manifest
