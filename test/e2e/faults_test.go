package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// faultWebhookTimeout is the webhook timeout (seconds) of the fault tests:
// the API server gives up on a webhook call after it.
const faultWebhookTimeout = 5

// waitDenied creates obj until the API server reaches the webhook and it
// denies obj with a message containing want.
func waitDenied(ctx context.Context, t *testing.T, c client.Client, within time.Duration, obj client.Object, want string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		o := obj.DeepCopyObject().(client.Object)
		err := c.Create(ctx, o)
		if err != nil && strings.Contains(err.Error(), want) {
			return
		}
		if err == nil {
			_ = c.Delete(ctx, o)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never denied with %q within %v (last error %v)", obj.GetName(), want, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deadAddr is a loopback address nothing listens on (connection refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestRegistryFaultsDuringAdmission creates Pods through a real API server
// while the registry is down (connection refused), slow past the webhook's
// deadline, or answering 429, under an Enforce ClusterImagePolicy and
// under Kyverno verifyImages rules with failurePolicy Fail and Ignore.
// Every create returns before the API server's webhook timeout (the
// webhook answers itself, it is not timed out), Fail denies with a message
// naming the registry problem, Ignore admits (as Kubernetes does for an
// unreachable webhook under Ignore), and no unsigned image is ever
// admitted under a policy that fails closed.
func TestRegistryFaultsDuringAdmission(t *testing.T) {
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	dead := deadAddr(t)
	pem := strings.TrimSpace(string(key.PublicPEM))
	indent := func(n int) string { return strings.ReplaceAll(pem, "\n", "\n"+strings.Repeat(" ", n)) }
	policies := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: cip-signed}
spec:
  images: [{glob: "%[1]s/cip/**"}, {glob: "%[2]s/cip/**"}]
  authorities:
  - name: team-key
    key:
      data: |
        %[3]s
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: kyv-fail}
spec:
  validationFailureAction: Enforce
  failurePolicy: Fail
  rules:
  - name: check-signature
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%[1]s/kf/*", "%[2]s/kf/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |
              %[4]s
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: kyv-ignore}
spec:
  validationFailureAction: Enforce
  failurePolicy: Ignore
  rules:
  - name: check-signature
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%[1]s/ki/*", "%[2]s/ki/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |
              %[4]s
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`, reg.Host, dead, indent(8), indent(14))

	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"shop", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, policies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Every case uses an image never verified before (no cached verdict,
	// no cached tag), unsigned: admitting it under Fail is a wrong admit.
	var n atomic.Int64
	unsigned := func(repo string) string {
		tag := fmt.Sprintf("u%d", n.Add(1))
		reg.PushRandom(t, repo, tag)
		return reg.Ref(repo, tag)
	}
	_, _ = startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), ImagePolicies: true, Mutating: true,
		TimeoutSeconds: faultWebhookTimeout})
	// The webhook is in force for all three policies (registry healthy).
	waitDenied(ctx, t, env.Client, 30*time.Second, imagePod("probe-cip", unsigned("cip/app")), "cip-signed")
	waitDenied(ctx, t, env.Client, 30*time.Second, imagePod("probe-kf", unsigned("kf/app")), "kyv-fail")
	waitDenied(ctx, t, env.Client, 30*time.Second, imagePod("probe-ki", unsigned("ki/app")), "kyv-ignore")

	// limit is "one webhook timeout, not two": a Pod under an image policy
	// goes through two webhooks that both read the registry, one after
	// the other (the mutating one pinning digests, then the validating
	// one). The first waits its image budget (the timeout minus a tenth)
	// and denies naming the registry; the verifier remembers the fault of
	// the repository, so the second fails at once with the same message.
	// Before that memory a slow registry cost two budgets (measured: 9.1 s
	// with 5 s timeouts; two budgets are 9 s). The 2 s over one timeout
	// cover the API server's own work on a busy machine and stay 2 s under
	// two budgets.
	const limit = faultWebhookTimeout*time.Second + 2*time.Second
	faults := []struct {
		name  string
		fault func(*http.Request) (int, time.Duration) // nil: the registry is down (dead address)
		// want names the registry problem in the denial.
		want []string
	}{
		{"registry down", nil, []string{"registry", "connection refused"}},
		{"registry slow past the deadline", func(*http.Request) (int, time.Duration) { return 0, time.Minute },
			[]string{"registry", "deadline exceeded"}},
		{"registry answering 429", func(*http.Request) (int, time.Duration) { return http.StatusTooManyRequests, 0 },
			[]string{"registry", "429"}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			image := func(repo string) string {
				if f.fault == nil {
					return dead + "/" + repo + ":1"
				}
				return unsigned(repo)
			}
			// Each fault has its own repositories: a fault is remembered
			// per repository for a few seconds (imageverify FaultTTL), and
			// the next subtest must meet its own fault.
			slug := strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(f.name)
			cases := []struct {
				policy, repo string
				admit        bool
			}{
				{"cip-signed", "cip/" + slug, false}, // image policies fail closed
				{"kyv-fail", "kf/" + slug, false},
				{"kyv-ignore", "ki/" + slug, true},
			}
			type outcome struct {
				policy string
				took   time.Duration
				err    error
				admit  bool
			}
			// The three creates run together, as admissions do.
			out := make([]outcome, len(cases))
			imgs := make([]string, len(cases))
			for i, c := range cases {
				imgs[i] = image(c.repo)
			}
			if f.fault != nil {
				reg.SetFault(f.fault)
				defer reg.SetFault(nil)
			}
			var wg sync.WaitGroup
			for i, c := range cases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := imagePod(fmt.Sprintf("%s-%d", strings.ReplaceAll(c.repo, "/", "-"), n.Add(1)), imgs[i])
					t0 := time.Now()
					err := env.Client.Create(ctx, p)
					out[i] = outcome{c.policy, time.Since(t0), err, c.admit}
				}()
			}
			wg.Wait()
			for _, o := range out {
				t.Logf("%s: %s, err %v", o.policy, o.took.Round(time.Millisecond), o.err)
				if o.took > limit {
					t.Errorf("%s: the create took %s, past one webhook timeout (%ds) + margin: the second webhook waited for the registry again", o.policy, o.took, faultWebhookTimeout)
				}
				switch {
				case o.admit && o.err != nil:
					t.Errorf("%s (failurePolicy Ignore): err = %v, want admitted", o.policy, o.err)
				case !o.admit && o.err == nil:
					t.Errorf("%s: an unsigned image was admitted while the registry failed (wrong admit)", o.policy)
				case !o.admit:
					msg := o.err.Error()
					if strings.Contains(msg, "failed calling webhook") {
						t.Errorf("%s: the API server timed the webhook out instead of the webhook denying: %v", o.policy, o.err)
					}
					for _, w := range append([]string{o.policy}, f.want...) {
						if !strings.Contains(msg, w) {
							t.Errorf("%s: denial %q lacks %q", o.policy, msg, w)
						}
					}
				}
			}
		})
	}
	// Faults never leave a verdict behind: with the registry back, unsigned
	// images are denied again, the Ignore policy included (in repositories
	// whose faults are not remembered: the memory lasts FaultTTL).
	reg.SetFault(nil)
	for _, c := range []struct{ policy, repo string }{{"cip-signed", "cip/app"}, {"kyv-fail", "kf/app"}, {"kyv-ignore", "ki/app"}} {
		if err := env.Client.Create(ctx, imagePod("after-"+strings.ReplaceAll(c.repo, "/", "-"), unsigned(c.repo))); err == nil || !strings.Contains(err.Error(), c.policy) {
			t.Errorf("after the faults, %s: err = %v, want a denial", c.policy, err)
		}
	}
}

// podLoad counts the outcomes of Pod creates made in a loop by a few
// goroutines, half of them violating require-limits.
type podLoad struct {
	created, denied, failed atomic.Int64
	wrongAdmits             atomic.Int64
	mu                      sync.Mutex
	errs                    map[string]int
}

func (l *podLoad) record(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs == nil {
		l.errs = map[string]int{}
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	l.errs[msg]++
}

// TestAPIServerRestartDuringAdmission restarts kube-apiserver (same etcd,
// same certificates and port) while Pods are being created: no violating
// Pod is ever stored, the webhook recovers its watches (a policy created
// after the restart is enforced, for a kind the webhook configuration had
// to be extended for) and keeps deciding (a violating Pod is denied).
func TestAPIServerRestartDuringAdmission(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
		// A fixed directory keeps the serving certificates and the client
		// CA across the restart, as a real API server's are.
		te.ControlPlane.GetAPIServer().CertDir = t.TempDir()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	_, errc := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), TimeoutSeconds: faultWebhookTimeout})
	waitDenied(ctx, t, env.Client, 30*time.Second, pod("probe", "apps", "gcr.io/app:1", false, true), "require-limits")

	var load podLoad
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1)
				violating := i%2 == 0
				p := pod(fmt.Sprintf("load-%d", i), "apps", "gcr.io/app:1", !violating, true)
				cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
				err := env.Client.Create(cctx, p)
				ccancel()
				switch {
				case err == nil && violating:
					load.wrongAdmits.Add(1)
				case err == nil:
					load.created.Add(1)
				case strings.Contains(err.Error(), "require-limits"):
					load.denied.Add(1)
				default:
					load.failed.Add(1)
					load.record(err)
					time.Sleep(50 * time.Millisecond) // the API server is down: do not spin
				}
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	time.Sleep(2 * time.Second)
	before := load.created.Load() + load.denied.Load()
	apiserver := env.Environment.ControlPlane.GetAPIServer()
	t0 := time.Now()
	// SIGKILL: a crash, and envtest's Stop (SIGTERM) waits for a graceful
	// shutdown longer than its stop timeout while requests are in flight.
	killProcess(t, "kube-apiserver", apiserver.CertDir)
	if err := apiserver.Stop(); err != nil {
		t.Fatalf("stopping kube-apiserver: %v", err)
	}
	t.Logf("kube-apiserver killed in %s after %d decided creates", time.Since(t0).Round(time.Millisecond), before)
	time.Sleep(3 * time.Second)
	t0 = time.Now()
	if err := apiserver.Start(); err != nil {
		t.Fatalf("restarting kube-apiserver: %v", err)
	}
	t.Logf("kube-apiserver restarted in %s", time.Since(t0).Round(time.Millisecond))

	// The webhook keeps deciding: creates are decided again.
	restarted := load.created.Load() + load.denied.Load()
	eventually(t, 30*time.Second, "creates decided after the restart", func() (bool, string) {
		d := load.denied.Load()
		return load.created.Load()+d > restarted+10 && d > 0, fmt.Sprintf("created %d denied %d", load.created.Load(), d)
	})
	// The watches recovered: a policy created after the restart, for a
	// kind no policy matched before, is enforced (the policy watch saw it
	// and the webhook configuration was extended to Services).
	for _, p := range decodeAll(t, servicePolicy) {
		retryUntil(t, 30*time.Second, func() error { return env.Client.Create(ctx, p) })
	}
	svc := &corev1.Service{}
	svc.Name, svc.Namespace = "unowned", "apps"
	svc.Spec.Ports = []corev1.ServicePort{{Port: 80}}
	waitDenied(ctx, t, env.Client, 30*time.Second, svc, "services need an owner label")
	close(stop)
	wg.Wait()

	// No violating Pod was stored, whatever the clients saw.
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace("apps")); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if c := p.Spec.Containers[0]; c.Resources.Limits.Cpu().IsZero() {
			t.Errorf("pod %s without limits stored (wrong admit)", p.Name)
		}
	}
	t.Logf("created %d, denied %d, failed %d (API server down), wrong admits %d; errors %v",
		load.created.Load(), load.denied.Load(), load.failed.Load(), load.wrongAdmits.Load(), load.errs)
	if n := load.wrongAdmits.Load(); n != 0 {
		t.Errorf("%d violating Pods admitted", n)
	}
	select {
	case err := <-errc:
		t.Fatalf("serve stopped during the restart: %v", err)
	default:
	}
}

// killProcess sends SIGKILL to the process named name whose command line
// contains marker (a directory of this test), and waits for it to go.
func killProcess(t *testing.T, name, marker string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("finding %s: %v", name, err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if filepath.Base(args[0]) != name || !strings.Contains(string(cmd), marker) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing %s (pid %d): %v", name, pid, err)
		}
		return
	}
	t.Fatalf("no %s process with %q in its command line", name, marker)
}

// rrProxy is a TCP round-robin proxy on 127.0.0.1 standing in for a
// Service in front of webhook replicas (kube-proxy balances connections,
// not requests, and TLS ends at the replicas). kill cuts one backend hard:
// its open connections are reset, as when a Pod's process dies, and it
// leaves the rotation, as its endpoint does.
type rrProxy struct {
	l     net.Listener
	mu    sync.Mutex
	back  []string
	dead  map[string]bool
	conns map[string]map[net.Conn]bool
	next  int
	dials map[string]int
}

func newRRProxy(t *testing.T) *rrProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{l: l, dead: map[string]bool{}, conns: map[string]map[net.Conn]bool{}, dials: map[string]int{}}
	t.Cleanup(func() { l.Close() })
	go p.serve()
	return p
}

func (p *rrProxy) setBackends(addrs ...string) {
	p.mu.Lock()
	p.back = addrs
	p.mu.Unlock()
}

func (p *rrProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *rrProxy) pick() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for i := range p.back {
		b := p.back[(p.next+i)%len(p.back)]
		if !p.dead[b] {
			out = append(out, b)
		}
	}
	p.next++
	return out
}

func (p *rrProxy) track(b string, cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead[b] {
		return false
	}
	if p.conns[b] == nil {
		p.conns[b] = map[net.Conn]bool{}
	}
	for _, c := range cs {
		p.conns[b][c] = true
	}
	p.dials[b]++
	return true
}

func (p *rrProxy) untrack(b string, cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns[b], c)
	}
}

func (p *rrProxy) handle(c net.Conn) {
	for _, b := range p.pick() {
		u, err := net.DialTimeout("tcp", b, 2*time.Second)
		if err != nil {
			continue
		}
		if !p.track(b, c, u) {
			u.Close()
			continue
		}
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
		go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
		<-done
		c.Close()
		u.Close()
		p.untrack(b, c, u)
		return
	}
	c.Close()
}

// busiest is the live backend with the most open connections.
func (p *rrProxy) busiest() (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	best, n := "", -1
	for _, b := range p.back {
		if !p.dead[b] && len(p.conns[b]) > n {
			best, n = b, len(p.conns[b])
		}
	}
	return best, n
}

// kill resets every connection to b and takes b out of the rotation.
func (p *rrProxy) kill(b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead[b] = true
	for c := range p.conns[b] {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN: the process is gone
		}
		c.Close()
	}
}

// TestWebhookReplicaKilledUnderLoad runs two replicas (leader election,
// shared certificate Secret) behind one URL, a TCP round-robin proxy in
// the test standing in for the Service, creates Pods from several
// goroutines and kills the replica holding the API server's connections
// mid-way: every violating Pod is denied (never admitted), and the only
// errors are webhook calls cut while in flight on the killed replica
// (failurePolicy Fail turns them into errors, the API server does not
// retry a webhook POST), bounded by the requests in flight at the kill.
func TestWebhookReplicaKilledUnderLoad(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const ns = "portcullis-system"
	for _, n := range []string{ns, "apps"} {
		if err := env.Client.Create(ctx, namespace(n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newRRProxy(t)
	type rep struct {
		cancel  context.CancelFunc
		errc    <-chan error
		running serve.Running
	}
	start := func() *rep {
		rctx, rcancel := context.WithCancel(ctx)
		r, errc := startServe(rctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: ns,
			DNSNames: []string{"127.0.0.1"}, TLSSecret: "portcullis-tls",
			WebhookURL:     "https://" + proxy.l.Addr().String(),
			LeaderElection: true, RetryPeriod: time.Second, TimeoutSeconds: faultWebhookTimeout})
		return &rep{rcancel, errc, r}
	}
	a, b := start(), start()
	byAddr := map[string]*rep{a.running.Addr: a, b.running.Addr: b}
	proxy.setBackends(a.running.Addr, b.running.Addr)
	waitDenied(ctx, t, env.Client, 30*time.Second, pod("probe", "apps", "gcr.io/app:1", false, true), "require-limits")

	type call struct {
		start, end time.Duration
		violating  bool
		err        error
	}
	var (
		mu    sync.Mutex
		calls []call
		seq   atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		epoch = time.Now()
	)
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := seq.Add(1)
				violating := i%2 == 0
				p := pod(fmt.Sprintf("load-%d", i), "apps", "gcr.io/app:1", !violating, true)
				c := call{start: time.Since(epoch), violating: violating}
				c.err = env.Client.Create(ctx, p)
				c.end = time.Since(epoch)
				mu.Lock()
				calls = append(calls, c)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	victim, open := proxy.busiest()
	killedAt := time.Since(epoch)
	proxy.kill(victim)
	byAddr[victim].cancel() // the process is gone: its Lease, if it led, is taken over
	t.Logf("killed replica %s with %d open connections after %s", victim, open, killedAt.Round(time.Millisecond))
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	select {
	case <-byAddr[victim].errc:
	case <-time.After(40 * time.Second):
		t.Error("the killed replica did not stop")
	}

	var after, decidedAfter, failed, inFlight int
	errs := map[string]int{}
	for _, c := range calls {
		if c.start <= killedAt && c.end >= killedAt {
			inFlight++
		}
		if c.start > killedAt {
			after++
		}
		switch {
		case c.err == nil && c.violating:
			t.Errorf("a violating Pod was admitted (wrong admit), started at %s", c.start)
		case c.err == nil || strings.Contains(c.err.Error(), "require-limits"):
			if c.start > killedAt {
				decidedAfter++
			}
		default:
			failed++
			msg := c.err.Error()
			errs[msg[:min(len(msg), 160)]]++
			// An error is allowed only for a webhook call cut on the
			// killed replica: in flight when it died, and failurePolicy
			// Fail makes the API server answer with its webhook error.
			if !strings.Contains(msg, "failed calling webhook") {
				t.Errorf("create failed other than by the webhook's failurePolicy: %v", c.err)
			}
			if c.start > killedAt+time.Second || c.end < killedAt {
				t.Errorf("create [%s, %s] failed but was not in flight when the replica was killed at %s: %v",
					c.start, c.end, killedAt, c.err)
			}
		}
	}
	t.Logf("%d creates (%d after the kill, %d of them decided), %d in flight at the kill, %d failed: %v",
		len(calls), after, decidedAfter, inFlight, failed, errs)
	if failed > workers {
		t.Errorf("%d creates failed, more than the %d that can be in flight", failed, workers)
	}
	if decidedAfter == 0 || decidedAfter < after-workers {
		t.Errorf("after the kill %d of %d creates were decided: the surviving replica did not take the load", decidedAfter, after)
	}
	// The surviving replica still answers through the same URL.
	waitDenied(ctx, t, env.Client, 10*time.Second, pod("final", "apps", "gcr.io/app:1", false, true), "require-limits")
	var survivor *rep
	for addr, r := range byAddr {
		if addr != victim {
			survivor = r
		}
	}
	select {
	case err := <-survivor.errc:
		t.Fatalf("the surviving replica stopped: %v", err)
	default:
	}
}
