// Package e2e runs end-to-end tests against a real kube-apiserver and etcd,
// started by controller-runtime's envtest from binaries that
// hack/envtest/build.sh builds and caches per version:
//
//	export KUBEBUILDER_ASSETS="$(hack/envtest/build.sh)"
//	PORTCULLIS_E2E=1 go test -tags e2e -count=1 ./test/e2e/
//
// (hack/envtest/test.sh does both.) Without KUBEBUILDER_ASSETS the tests
// skip, or fail when PORTCULLIS_E2E=1 so that CI cannot pass by skipping.
//
// Everything but this file carries the e2e build tag: importing envtest needs
// k8s.io/apiextensions-apiserver listed in the project's go.mod, and without
// the tag `go test ./...` would stop on "updates to go.mod needed" until it
// is. Without -tags e2e this package has no tests.
//
// envtest's own knobs still apply: KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true
// shows the apiserver's and etcd's logs, KUBEBUILDER_CONTROLPLANE_START_TIMEOUT
// overrides the start timeout (StartTimeout here otherwise).
package e2e
