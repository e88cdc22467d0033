package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const hostIPCPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: no-host-ipc}
spec:
  validationFailureAction: Enforce
  rules:
  - name: host-ipc
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: hostIPC is not allowed
      pattern:
        spec:
          =(hostIPC): "false"
`

// hostIPCException exempts the debug-* Pods of namespace apps from
// no-host-ipc; NAMESPACE is where the exception itself lives.
const hostIPCException = `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: debug-tools, namespace: NAMESPACE}
spec:
  exceptions:
  - policyName: no-host-ipc
    ruleNames: [host-ipc]
  match:
    any:
    - resources:
        kinds: [Pod]
        namespaces: [apps]
        names: ["debug-*"]
`

func hostIPCPod(name string) *corev1.Pod {
	p := pod(name, "apps", "gcr.io/app:1", false, false)
	p.Spec.HostIPC = true
	return p
}

// TestWebhook_exceptions runs serve with --exceptions-namespace
// policy-exceptions against a real API server: a PolicyException in that
// namespace admits the Pod it exempts; an identical one in the tenant's
// own namespace is ignored (reported, not honoured); deleting the honoured
// exception denies the Pod again; the background controller reports a
// running excepted Pod skipped, and failing once the exception is gone; a
// malformed exception is refused when it is created.
func TestWebhook_exceptions(t *testing.T) {
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), PolicyExceptionCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "policy-exceptions", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, hostIPCPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var running serve.Running
	running, _ = startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), Background: true,
		ExceptionNamespaces: []string{"policy-exceptions"}})
	// create tries the excepted Pod and deletes it when it was admitted.
	create := func() error {
		err := env.Client.Create(ctx, hostIPCPod("debug-shell"))
		if err == nil {
			_ = env.Client.Delete(ctx, hostIPCPod("debug-shell"))
		}
		return err
	}
	denied := func(err error) bool { return err != nil && strings.Contains(err.Error(), "hostIPC is not allowed") }
	eventually(t, 30*time.Second, "the webhook denies the hostIPC pod", func() (bool, string) {
		err := create()
		return denied(err), "last: " + errString(err)
	})

	exception := func(ns string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(strings.Replace(hostIPCException, "NAMESPACE", ns, 1)), &u.Object); err != nil {
			t.Fatal(err)
		}
		return u
	}
	// The tenant's own exception is ignored: the Pod stays denied.
	if err := env.Client.Create(ctx, exception("apps")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the exception outside the exceptions namespaces is reported ignored", func() (bool, string) {
		ign := running.Policies.IgnoredExceptions()
		return len(ign) == 1 && ign[0].Namespace == "apps", ""
	})
	if n := len(running.Policies.Current().Exceptions); n != 0 {
		t.Fatalf("%d exceptions in force, want none", n)
	}
	if err := create(); !denied(err) {
		t.Fatalf("with an exception in the tenant's namespace: err = %v, want denied", err)
	}

	// The same exception in the exceptions namespace is honoured.
	allowed := exception("policy-exceptions")
	if err := env.Client.Create(ctx, allowed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the excepted pod is admitted", func() (bool, string) {
		err := create()
		return err == nil, "last: " + errString(err)
	})
	// Only the Pods the exception matches: another hostIPC Pod is denied.
	if err := env.Client.Create(ctx, hostIPCPod("web")); !denied(err) {
		t.Errorf("a pod the exception does not match: err = %v, want denied", err)
	}

	// A Pod admitted under the exception is reported skipped by the
	// background controller, naming the exception.
	if err := env.Client.Create(ctx, hostIPCPod("debug-running")); err != nil {
		t.Fatalf("excepted pod: %v", err)
	}
	const skipped, failed = "Pod/debug-running no-host-ipc/host-ipc skip", "Pod/debug-running no-host-ipc/host-ipc fail"
	eventually(t, 10*time.Second, "the running excepted pod reported skipped", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return slices.Contains(got, skipped), fmt.Sprint(got)
	})

	// Deleting the exception denies again, and the running Pod is
	// re-evaluated: it fails.
	if err := env.Client.Delete(ctx, allowed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the pod is denied again once the exception is deleted", func() (bool, string) {
		err := create()
		return denied(err), "last: " + errString(err)
	})
	eventually(t, 10*time.Second, "the running pod reported failing once the exception is deleted", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return slices.Contains(got, failed) && !slices.Contains(got, skipped), fmt.Sprint(got)
	})

	// A malformed exception is refused by /validate-policy.
	bad := exception("policy-exceptions")
	bad.SetName("bad")
	if err := unstructured.SetNestedSlice(bad.Object, []any{map[string]any{"controlName": "Host Namespace"}}, "spec", "podSecurity"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a malformed exception is refused", func() (bool, string) {
		err := env.Client.Create(ctx, bad)
		if err == nil {
			_ = env.Client.Delete(ctx, bad)
		}
		return err != nil && strings.Contains(err.Error(), `unknown control "Host Namespace"`), "last: " + errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
