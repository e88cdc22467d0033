// Package schema validates Kubernetes objects against the schema of their
// kind before policies are evaluated on them, as the API server would
// before admitting them: unknown fields (with the nearest known name),
// values of the wrong type, required fields that are missing, and values
// outside an enum.
//
// Built-in kinds take their schema from the Go types of k8s.io/api (the
// types the API server's OpenAPI documents are generated from, already
// linked into the binary through client-go's scheme): nothing is loaded or
// parsed at start-up, and a kind's schema is built the first time a
// document of that kind is validated. A field is required when its JSON
// tag has no omitempty, as the OpenAPI generator decides, except for the
// few fields the published OpenAPI document marks optional anyway
// (optionalFields). The API server's own checks add that every object is
// named (metadata.name or generateName) and that Pods and pod controllers
// carry their pod spec.
//
// Custom resources take their schema from CustomResourceDefinitions given
// to AddCRDs (the openAPIV3Schema of each served version, with the
// structural-schema extensions x-kubernetes-preserve-unknown-fields,
// x-kubernetes-int-or-string and x-kubernetes-embedded-resource). Kinds
// with no schema are reported as unknown, not as invalid.
package schema
