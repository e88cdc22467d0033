package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// TestAdmperfServeFootprint runs `portcullis serve` as a process (out of
// cluster, against a real API server) with one policy and measures its
// resident memory once it is ready and idle, and again after 300 Pod
// admissions. Idle RSS must fit in the memory the Helm chart requests
// (resources.requests.memory in deploy/helm/portcullis/values.yaml): the
// scheduler places the Pod on that figure.
//
//	go test -run 'TestAdmperfServeFootprint' -v ./test/e2e/
func TestAdmperfServeFootprint(t *testing.T) {
	request := chartMemoryRequest(t)
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD()) }})
	bin, err := buildPortcullis(t)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := adminKubeconfig(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// One policy: the first runbook policy (require-limits).
	policies := decodeAll(t, runbookPolicies)
	if err := env.Client.Create(ctx, policies[0]); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, namespace("apps")); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, append([]string{"serve", "--kubeconfig", kubeconfig, "--webhook-url", url, "--metrics-addr", "127.0.0.1:0"}, serveExtraArgs()...)...)
	// The environment of the chart's container (no memory limit set).
	// PORTCULLIS_FOOTPRINT_ENV (space-separated NAME=VALUE) adds to it.
	cmd.Env = append(append(os.Environ(), "GOMEMLIMIT=", "GOGC="), strings.Fields(os.Getenv("PORTCULLIS_FOOTPRINT_ENV"))...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if t.Failed() {
			t.Logf("serve output:\n%s", logs.String())
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("serve exited: %v", err)
		default:
		}
		err := env.Client.Create(ctx, pod("probe", "apps", "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "require-limits") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, pod("probe", "apps", "", false, false))
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied a non-compliant pod (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Idle: let start-up garbage be collected (the runtime forces a GC
	// every 2 minutes at the latest; allocation-driven ones come sooner).
	time.Sleep(15 * time.Second)
	idle := rssOf(t, cmd.Process.Pid)
	t.Logf("ready and idle: %s", memStatus(t, cmd.Process.Pid))
	for i := range 300 {
		if err := env.Client.Create(ctx, pod(fmt.Sprintf("p-%d", i), "apps", "gcr.io/app:1", true, true)); err != nil {
			t.Fatal(err)
		}
	}
	after := rssOf(t, cmd.Process.Pid)
	t.Logf("after 300 admissions: %s", memStatus(t, cmd.Process.Pid))
	t.Logf("serve RSS: %.1f MiB ready and idle with one policy, %.1f MiB after 300 admissions; the chart requests %s",
		mib(idle), mib(after), request.String())
	if idle > request.Value() {
		t.Errorf("idle RSS %.1f MiB exceeds the chart's memory request %s", mib(idle), request.String())
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// memStatus is the memory lines of /proc/PID/status: RssAnon is the Go
// heap, stacks and runtime, RssFile the pages of the executable read.
func memStatus(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "RssAnon:" || f[0] == "RssFile:" || f[0] == "VmHWM:") {
			out = append(out, f[0]+" "+strings.Join(f[1:], " "))
		}
	}
	return strings.Join(out, ", ")
}

// rssOf is VmRSS of a process, in bytes.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// chartMemoryRequest reads resources.requests.memory of the Helm chart's
// default values.
func chartMemoryRequest(t *testing.T) resource.Quantity {
	t.Helper()
	data, err := os.ReadFile("../../deploy/helm/portcullis/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Resources struct {
			Requests struct {
				Memory string `json:"memory"`
			} `json:"requests"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	q, err := resource.ParseQuantity(values.Resources.Requests.Memory)
	if err != nil {
		t.Fatalf("resources.requests.memory %q: %v", values.Resources.Requests.Memory, err)
	}
	return q
}

// serveExtraArgs are extra `serve` flags from PORTCULLIS_FOOTPRINT_ARGS
// (space-separated), to compare settings with the same test.
func serveExtraArgs() []string { return strings.Fields(os.Getenv("PORTCULLIS_FOOTPRINT_ARGS")) }
