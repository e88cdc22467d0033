package background

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// staticPolicies is a PolicySource whose set never changes.
type staticPolicies struct {
	set    *policy.Set
	loaded chan struct{}
}

func newStaticPolicies(set *policy.Set) *staticPolicies {
	l := make(chan struct{})
	close(l)
	return &staticPolicies{set: set, loaded: l}
}

func (s *staticPolicies) Current() *policy.Set       { return s.set }
func (s *staticPolicies) Subscribe() <-chan struct{} { return make(chan struct{}) }
func (s *staticPolicies) Loaded() <-chan struct{}    { return s.loaded }

// builtinSet compiles the policies BenchmarkBackground10k (test/e2e)
// applies: PSS baseline and restricted, runbook.
func builtinSet(tb testing.TB) *policy.Set {
	tb.Helper()
	files, err := controls.Files(controls.SetPSSBaseline, controls.SetPSSRestricted, controls.SetRunbook)
	if err != nil {
		tb.Fatal(err)
	}
	var docs []string
	for _, f := range files {
		docs = append(docs, string(f.Data))
	}
	set, err := policy.LoadBytes("builtin", []byte(strings.Join(docs, "\n---\n")), policy.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// benchPod is a Pod of BenchmarkBackground10k as the API server stores it
// (defaults applied, requests defaulted from limits) and the cache holds
// it (no managedFields, no TypeMeta); every other one is privileged.
func benchPod(i int) *corev1.Pod {
	yes, no := true, false
	limits := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	c := corev1.Container{Name: "app", Image: "gcr.io/app:1", ImagePullPolicy: corev1.PullIfNotPresent,
		Resources:                corev1.ResourceRequirements{Limits: limits, Requests: limits.DeepCopy()},
		SecurityContext:          &corev1.SecurityContext{RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no},
		TerminationMessagePath:   "/dev/termination-log",
		TerminationMessagePolicy: corev1.TerminationMessageReadFile}
	if i%2 == 1 {
		c.SecurityContext.Privileged, c.SecurityContext.AllowPrivilegeEscalation = &yes, nil
	}
	grace := int64(30)
	seconds := int64(300)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%05d", i), Namespace: fmt.Sprintf("team-%02d", i%20),
			UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)), ResourceVersion: fmt.Sprint(1000 + i),
			CreationTimestamp: metav1.Now(), Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}, RestartPolicy: corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace, DNSPolicy: corev1.DNSClusterFirst, ServiceAccountName: "default",
			SchedulerName: "default-scheduler", SecurityContext: &corev1.PodSecurityContext{}, EnableServiceLinks: &yes,
			PreemptionPolicy: new(corev1.PreemptLowerPriority), Priority: new(int32(0)),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSGuaranteed},
	}
}

// processCPU is the CPU time of the process (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEvaluate10kPods is the controller's evaluation of one Pod
// (conversion of the cached typed Pod, the engine, keeping the results)
// over the 10,000 Pods of BenchmarkBackground10k, with the policies it
// applies: "full" against every policy (the first evaluation, a Pod
// change, a resync), "edit" against one edited policy, the others'
// results kept. s/10k is the time of evaluating every Pod once on one
// worker, cpu-s/10k the CPU time of the process for it (the garbage
// collector's included; on a shared machine the figure to compare).
func BenchmarkEvaluate10kPods(b *testing.B) {
	set := builtinSet(b)
	const pods = 10000
	objs := make([]*corev1.Pod, pods)
	keys := make([]key, pods)
	for i := range objs {
		objs[i] = benchPod(i)
		keys[i] = key{gvk: podGVK, namespace: objs[i].Namespace, name: objs[i].Name}
	}
	labels := map[string]string{"kubernetes.io/metadata.name": "team"}
	newController := func() *Controller {
		m, err := newMetrics(nil)
		if err != nil {
			b.Fatal(err)
		}
		return &Controller{opts: Options{Policies: newStaticPolicies(set), Engine: engine.New()}, log: slog.New(slog.DiscardHandler),
			metrics: m, entries: map[string]map[key]*entry{}, dirty: map[string]bool{}, pending: map[key]*work{}}
	}
	ctx := context.Background()
	evaluateAll := func(c *Controller) {
		for i, p := range objs {
			if _, err := c.evaluateObject(ctx, keys[i], p, labels); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("full", func(b *testing.B) {
		c := newController()
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := range b.N {
			if _, err := c.evaluateObject(ctx, keys[i%pods], objs[i%pods], labels); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*pods, "s/10k")
		b.ReportMetric((processCPU()-cpu).Seconds()/float64(b.N)*pods, "cpu-s/10k")
	})
	b.Run("edit", func(b *testing.B) {
		c := newController()
		evaluateAll(c)
		edited := map[string]bool{policyID("ClusterPolicy", "disallow-privileged-containers"): true}
		if len(set.Select(func(kind, key string) bool { return edited[policyID(kind, key)] }).Policies) != 1 {
			b.Fatal("the edited policy is not in the set")
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := range b.N {
			k := keys[i%pods]
			c.mu.Lock()
			c.addPending(k, edited)
			c.mu.Unlock()
			if _, err := c.evaluateObject(ctx, k, objs[i%pods], labels); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*pods, "s/10k")
		b.ReportMetric((processCPU()-cpu).Seconds()/float64(b.N)*pods, "cpu-s/10k")
	})
}

// BenchmarkConvertPod is the conversion of one cached typed Pod to the
// maps the engine reads (what keeping every Pod converted would hold:
// B/op).
func BenchmarkConvertPod(b *testing.B) {
	p := benchPod(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := asUnstructured(p, podGVK); err != nil {
			b.Fatal(err)
		}
	}
}
