// Package imageadmission applies sigstore ClusterImagePolicies to the
// container images of objects under admission: Pods and every workload
// with a pod template. Validate verifies each image against the policies
// whose match (resource, labels) and images globs cover it and words a
// denial naming the image, its field, the policy and what failed; Mutate
// pins the covered images' tags to the digests they resolve to.
//
// The package knows nothing about AdmissionReview: the admission handler
// builds a Request and turns the Decision into its response.
package imageadmission
