package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/execpages"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/kyvernoimages"
	"github.com/portcullis/portcullis/internal/memlimit"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/portcullis/portcullis/internal/webhookconfig"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Options configure Run. Zero values take the documented defaults.
type Options struct {
	// Addr is where the HTTPS webhook listens (default ":9443").
	Addr string
	// MetricsAddr, when set, also serves /healthz, /readyz and /metrics
	// over plain HTTP (for probes and scrapers); they are always served on
	// the webhook port too.
	MetricsAddr string
	// PolicyGroup is the API group of the policy CRDs (default portcullis.dev).
	PolicyGroup string
	// Namespace and ServiceName locate the webhook Service; when
	// ServiceName is empty, WebhookURL is used in the configuration.
	Namespace, ServiceName string
	// WebhookURL reaches the webhook directly (out-of-cluster runs, tests).
	// When both ServiceName and WebhookURL are empty, the URL is
	// https://<listen address>. Without ServiceName, a generated serving
	// certificate covers the URL's host (an IP SAN for an address, a DNS
	// SAN for a name).
	WebhookURL string
	// ConfigurationName names the ValidatingWebhookConfiguration (default "portcullis").
	ConfigurationName string
	// ExcludeNamespaces are never sent to the webhook (default kube-system
	// and Namespace).
	ExcludeNamespaces []string
	// TimeoutSeconds is the webhook timeout for policies that set none (default 10).
	TimeoutSeconds int32
	// FailurePolicy is the webhook failure policy for policies that set
	// none: "Fail" (default) or "Ignore".
	FailurePolicy string
	// CertFile/KeyFile/CAFile serve a provided certificate (cert-manager);
	// otherwise a CA and serving certificate are generated (in CertDir
	// when set) and rotated.
	CertFile, KeyFile, CAFile string
	CertDir                   string
	// ClientCAFile, when set, requires every client of the webhook port to
	// present a certificate of one of these CAs (the API server's webhook
	// client certificate): see admission.ServerOptions.ClientCAFile.
	ClientCAFile string
	// WebhookHTTP2 lets the webhook port offer HTTP/2 as well as HTTP/1.1
	// (see admission.ServerOptions.HTTP2; default HTTP/1.1 only, what the
	// API server uses for webhooks behind a Service).
	WebhookHTTP2 bool
	// DNSNames are added to a generated serving certificate (e.g. 127.0.0.1).
	DNSNames []string
	// TLSSecret names a Secret in Namespace holding a generated CA and
	// serving certificate shared by all replicas (created and rotated by
	// whichever replica finds it missing or due). Empty: each process
	// generates its own (one replica only).
	TLSSecret string
	// CertValidity is the lifetime of generated serving certificates
	// (default one year).
	CertValidity time.Duration
	// OwnerClusterRole, when set, makes that ClusterRole the owner of the
	// webhook configuration, so the garbage collector deletes the
	// configuration with the installation (helm uninstall deletes the
	// ClusterRole) instead of leaving a webhook nobody answers.
	OwnerClusterRole string
	// ImagePolicies watches sigstore ClusterImagePolicies and verifies the
	// images of Pods and workloads against them (their CRD must be
	// installed).
	ImagePolicies bool
	// ExceptionNamespaces are the namespaces whose kyverno.io/v2
	// PolicyExceptions are honoured ("*": all). Empty: exceptions are off
	// (not watched). See policysource.Options.ExceptionNamespaces.
	ExceptionNamespaces []string
	// CELPolicies watches the policies.kyverno.io kinds (ValidatingPolicy,
	// MutatingPolicy, GeneratingPolicy and, with ExceptionNamespaces, their
	// PolicyException) whose CRDs are installed, enforcing them with the
	// other policies; absent CRDs are logged, not an error (see
	// policysource.Options.CELPolicies).
	CELPolicies bool
	// Mutating manages a MutatingWebhookConfiguration (named
	// MutatingConfigurationName, default ConfigurationName) that applies
	// Kyverno mutate rules and pins the images image policies cover to
	// digests.
	Mutating                  bool
	MutatingConfigurationName string
	// Images configures registry access for image verification.
	Images imageverify.Options
	// VerificationCache turns on the signed verification cache: the
	// mutating webhook records the image verdicts of pod controllers in
	// their pod template (annotation portcullis.dev/verified), and the
	// ReplicaSets, Jobs and Pods created from them are admitted on it
	// without registry requests (see internal/vcache).
	VerificationCache bool
	// VerificationCacheTTL is how long a record is valid (default 1h).
	VerificationCacheTTL time.Duration
	// VerificationKeySecret names the Secret in Namespace holding the
	// signing keys, shared by the replicas (created when absent). Empty:
	// a key in memory, for one replica only.
	VerificationKeySecret string
	// VerificationKeyOverlap is how long a rotated-out key still verifies
	// (default VerificationCacheTTL: every record it signed expires
	// within it).
	VerificationKeyOverlap time.Duration
	// VerificationKeyResync is how often each replica re-reads the key
	// Secret (default DefaultVerificationKeyResync).
	VerificationKeyResync time.Duration
	// KubeAPIQPS and KubeAPIBurst set the API clients' client-side rate
	// limit (defaults DefaultKubeAPIQPS and DefaultKubeAPIBurst; see
	// clients.go). ObjectCacheTTL is how long admission serves
	// ServiceAccounts and Secrets from memory (default
	// DefaultObjectCacheTTL; negative: read them on every request).
	KubeAPIQPS     float32
	KubeAPIBurst   int
	ObjectCacheTTL time.Duration
	// LeaderElection elects one replica (a coordination.k8s.io Lease named
	// LeaderElectionID in LeaderElectionNamespace) to do the work that
	// must have a single writer: the webhook configurations and the
	// certificate Secret. Without it this process does that work itself.
	LeaderElection bool
	// LeaderElectionID names the Lease (default "portcullis").
	LeaderElectionID string
	// LeaderElectionNamespace holds the Lease (default Namespace).
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election
	// (defaults 15 s, 10 s, 2 s). On a clean stop the leader releases the
	// Lease, so another replica takes over within RetryPeriod.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ResyncInterval is how often the leader re-applies the webhook
	// configurations even when nothing changed, repairing manual edits
	// (default 5 minutes).
	ResyncInterval time.Duration
	// Background runs the continuous-verification controller on the
	// leader: every object the policies match is evaluated and kept in
	// wgpolicyk8s.io PolicyReports (the CRDs must be installed).
	Background bool
	// BackgroundOptional runs without the background controller (with a
	// warning in the log) when the report CRDs are not installed, instead
	// of failing: the default of the command line, where --background was
	// not asked for explicitly.
	BackgroundOptional bool
	// BackgroundInterval re-evaluates everything (default 1h).
	BackgroundInterval time.Duration
	// Generate runs the generate controller on the leader: the objects of
	// Kyverno generate rules and GeneratingPolicies are created and kept
	// through the API server (internal/generate).
	Generate bool
	// ReportPasses lists passing and skipped results in the reports.
	ReportPasses bool
	// EventsSink, when set, receives a CloudEvent (HTTP binary mode) for
	// every compliance change the background controller sees.
	EventsSink string
	// ClusterName is the events' source and the cluster's name in the
	// findings store (default: the kubeconfig context name, or
	// "in-cluster").
	ClusterName string
	// Store and DataDir enable the findings store (internal/store): Store
	// is a postgres:// URL or a SQLite file (sqlite://PATH or a path);
	// without it the SQLite file DataDir/portcullis.db. The background
	// controller's results and compliance transitions are recorded there.
	Store, DataDir string
	// Retention is how long the store keeps history (default 90 days;
	// negative: forever).
	Retention time.Duration
	// DashboardAddr, when set, serves the findings dashboard
	// (internal/dashboard) of the store (Store or DataDir) on this
	// address, on every replica, over HTTPS with the webhook's
	// certificate: callers authenticate with Kubernetes tokens
	// (TokenReview) and see the namespaces where they may list
	// PolicyReports (SubjectAccessReview).
	DashboardAddr string
	// ShutdownDelay is how long the webhook keeps serving after ctx ends,
	// with /readyz already failing, before it stops accepting and drains
	// the requests in flight (default 0).
	ShutdownDelay time.Duration
	// MemoryLimit, when positive, is set as the Go runtime's soft memory
	// limit (debug.SetMemoryLimit) while Run runs: the collector runs
	// more often near it instead of letting the heap grow to twice the
	// live heap. The command line sets DefaultMemoryLimit when
	// --memory-limit is not given.
	MemoryLimit int64
	// MemoryFloor, when positive and MemoryLimit is not, makes the Go
	// runtime's soft memory limit follow the live heap while Run runs
	// (memlimit.Follow): MemoryFloor, or the live heap grown by
	// memlimit.Growth percent when that is more. The command line sets
	// DefaultMemoryFloor when there is no memory limit to set.
	MemoryFloor int64
	// GCPercent, when positive, is set as the collector's GOGC
	// (debug.SetGCPercent) while Run runs. The command line sets
	// DefaultGCPercent when --gc-percent is not given: a larger value
	// than the Go default of 100 when a memory limit is in force.
	GCPercent int
	// ReleaseExecutablePages drops the executable's code and read-only
	// data pages from the process's resident set (internal/execpages)
	// once serve is ready and after each burst of background
	// evaluations: most of the 70-80 MiB of them that package inits and
	// start-up touch are not used again, and the rest is mapped again on
	// use from the page cache, which keeps them either way.
	ReleaseExecutablePages bool
	// Logger receives logs (default: discarded).
	Logger *slog.Logger
	// Registry receives the metrics (default: a new registry).
	Registry *prometheus.Registry
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = ":9443"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.ConfigurationName == "" {
		o.ConfigurationName = "portcullis" // webhookconfig's default too
	}
	if o.TimeoutSeconds == 0 {
		o.TimeoutSeconds = 10
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "portcullis"
	}
	if o.LeaderElectionNamespace == "" {
		o.LeaderElectionNamespace = o.Namespace
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.VerificationCacheTTL <= 0 {
		o.VerificationCacheTTL = admission.DefaultVerificationCacheTTL
	}
	if o.VerificationKeyOverlap <= 0 {
		o.VerificationKeyOverlap = o.VerificationCacheTTL
	}
	if o.VerificationKeyResync <= 0 {
		o.VerificationKeyResync = DefaultVerificationKeyResync
	}
	return o
}

// Running is a started server, for callers (tests) that need its address.
type Running struct {
	// Addr is the address the webhook listens on.
	Addr string
	// MetricsAddr is the plain-HTTP health and metrics address ("" when none).
	MetricsAddr string
	// DashboardAddr is the dashboard's HTTPS address ("" when off).
	DashboardAddr string
	// Policies is the watcher serving the current policy set.
	Policies *policysource.Watcher
	// Elected is closed once this process leads: at once without leader
	// election, when it wins the Lease with it.
	Elected <-chan struct{}
	// Applied is closed once this process (as leader) has applied the
	// webhook configuration.
	Applied <-chan struct{}
}

// Run serves until ctx is done, on a controller-runtime Manager (see the
// package documentation for what runs where). started, when not nil, is
// called once the webhook listens with a serving certificate and the
// policies are loaded; without leader election also once the webhook
// configuration is applied (with it, wait for Running.Applied of the
// leader).
func Run(ctx context.Context, cfg *rest.Config, o Options, started func(Running)) error {
	o = o.withDefaults()
	cfg = withRateLimits(cfg, o)
	log := o.Logger
	if o.TLSSecret != "" && o.Namespace == "" {
		return errors.New("serve: --tls-secret needs --namespace")
	}
	if o.LeaderElection && o.LeaderElectionNamespace == "" {
		return errors.New("serve: --leader-elect needs --namespace or --leader-election-namespace")
	}
	if o.VerificationCache && o.VerificationKeySecret != "" && o.Namespace == "" {
		return errors.New("serve: --verification-key-secret needs --namespace")
	}
	if o.MemoryLimit > 0 {
		prev := debug.SetMemoryLimit(o.MemoryLimit)
		defer debug.SetMemoryLimit(prev)
		log.Info("Go memory limit set", "bytes", o.MemoryLimit)
	} else if o.MemoryFloor > 0 {
		follow, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			memlimit.Follow(follow, o.MemoryFloor, time.Second, func(limit, live int64) {
				log.Debug("Go memory limit follows the live heap", "bytes", limit, "liveHeap", live)
			})
		}()
		defer func() {
			stop()
			<-done
		}()
		log.Info("Go memory limit follows the live heap", "floor", o.MemoryFloor, "growthPercent", memlimit.Growth)
	}
	if o.GCPercent > 0 {
		prev := debug.SetGCPercent(o.GCPercent)
		defer debug.SetGCPercent(prev)
		log.Info("Go garbage collector target set", "gcPercent", o.GCPercent)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if o.ImagePolicies {
		if err := requireImagePolicyCRD(cfg); err != nil {
			return err
		}
	}
	mgr, err := manager.New(cfg, managerOptions(scheme, o))
	if err != nil {
		return fmt.Errorf("serve: manager: %w", err)
	}
	// Writes and reads of single named objects (webhook configurations,
	// the owner ClusterRole) go straight to the API server: the cached
	// client would start cluster-wide informers the RBAC rules do not allow.
	direct, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: mgr.GetHTTPClient(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("serve: client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("serve: clientset: %w", err)
	}
	watcher, err := policysource.New(mgr.GetCache(), policysource.Options{Group: o.PolicyGroup, Logger: log, ImagePolicies: o.ImagePolicies,
		ExceptionNamespaces: o.ExceptionNamespaces, CELPolicies: o.CELPolicies, Discovery: cs.Discovery()})
	if err != nil {
		return err
	}
	var keys *keyStore
	if o.VerificationCache {
		keys = &keyStore{cs: cs, namespace: o.Namespace, name: o.VerificationKeySecret, overlap: o.VerificationKeyOverlap,
			resync: o.VerificationKeyResync, log: log, now: time.Now}
		if err := mgr.Add(keys); err != nil {
			return err
		}
	}
	h, err := newHandler(o, watcher, mgr, cs, keys)
	if err != nil {
		return err
	}

	if o.ServiceName == "" && o.WebhookURL != "" {
		host, err := webhookURLHost(o.WebhookURL)
		if err != nil {
			return err
		}
		o.DNSNames = append(append([]string{}, o.DNSNames...), host)
	}
	rec := &reconciler{cl: direct, cs: cs, watcher: watcher, o: o, log: log}
	rec.init()
	var loader *certLoader
	so := admission.ServerOptions{Addr: o.Addr, CertFile: o.CertFile, KeyFile: o.KeyFile, CertDir: o.CertDir,
		ServiceName: o.ServiceName, ServiceNamespace: o.Namespace, DNSNames: o.DNSNames, Logger: log,
		ShutdownDelay: o.ShutdownDelay, ClientCAFile: o.ClientCAFile, HTTP2: o.WebhookHTTP2}
	certReady := func() bool { return true }
	switch {
	case o.TLSSecret != "":
		hosts := append([]string{}, o.DNSNames...)
		if o.ServiceName != "" {
			hosts = append(hosts, o.ServiceName, o.ServiceName+"."+o.Namespace, o.ServiceName+"."+o.Namespace+".svc",
				o.ServiceName+"."+o.Namespace+".svc.cluster.local")
		}
		secret := &certSecret{cs: cs, namespace: o.Namespace, name: o.TLSSecret, hosts: hosts, validity: o.CertValidity, log: log}
		loader = newCertLoader(mgr.GetCache(), secret, o.CertDir, rec.setCA, log)
		so.CertFile, so.KeyFile, so.CertDir = "", "", ""
		so.GetCertificate = loader.GetCertificate
		certReady = loader.Ready
		if err := mgr.Add(leaderOnly{&certIssuer{secret: secret, poke: loader.poke, log: log}}); err != nil {
			return err
		}
		if err := mgr.Add(everyReplica{loader}); err != nil {
			return err
		}
	case o.CertFile != "":
		// Provided certificate files (cert-manager): reloaded when they
		// change; the CA comes from CAFile, reloaded too and published
		// before a certificate of a new CA is served.
		so.ReloadInterval = 2 * time.Second
		so.CAFile = o.CAFile
		so.OnCABundle = func(b []byte) { rec.setCA(b); rec.waitCA(b, caPublishTimeout) }
	default:
		// A CA and certificate of this process only: the reconciler
		// publishes each new CA before a certificate of it is served.
		so.OnCABundle = func(b []byte) { rec.setCA(b); rec.waitCA(b, caPublishTimeout) }
	}
	srv, err := admission.NewServer(h.mux, so)
	if err != nil {
		return err
	}
	if b := srv.CABundle(); len(b) > 0 {
		rec.setCA(b)
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if o.ServiceName == "" && o.WebhookURL == "" {
		rec.o.WebhookURL = "https://" + srv.Addr().String()
	}
	checks := probe{
		// Readiness fails first when the process is asked to stop, while
		// the webhook keeps serving for ShutdownDelay and then drains.
		{name: "shutdown", fn: func() error {
			if ctx.Err() != nil || srv.Stopping() {
				return errors.New("shutting down")
			}
			return nil
		}},
		{name: "policies", fn: func() error {
			if !watcher.Ready() {
				return errors.New("policy set not loaded yet")
			}
			return nil
		}},
		{name: "certificate", fn: func() error {
			if !certReady() {
				return errors.New("no serving certificate yet")
			}
			return nil
		}},
		// Broken policies do not stop serving (the others and the
		// stand-ins are in force) but are listed.
		{name: "broken policies", warning: true, fn: func() error {
			var lines []string
			for _, b := range watcher.Broken() {
				lines = append(lines, fmt.Sprintf("%s (%s): %s", b.Key, b.Fallback, b.Message()))
			}
			if len(lines) == 0 {
				return nil
			}
			return errors.New(strings.Join(lines, "\n  "))
		}},
	}
	h.mux.Handle(admission.PathReadyz, checks)
	h.mux.Handle(admission.PathHealthz, probe{})
	if err := mgr.Add(&webhookServer{srv: srv, mux: h.mux, certReady: certReady}); err != nil {
		return err
	}
	var metricsAddr string
	if o.MetricsAddr != "" {
		plain := http.NewServeMux()
		plain.Handle(admission.PathHealthz, probe{})
		plain.Handle(admission.PathReadyz, checks)
		plain.Handle(admission.PathMetrics, h.admission)
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("serve: metrics listener: %w", err)
		}
		metricsAddr = ln.Addr().String()
		shutdown := 5 * time.Second
		if err := mgr.Add(&manager.Server{Name: "metrics", Listener: ln, ShutdownTimeout: &shutdown,
			Server: &http.Server{Handler: plain, ReadHeaderTimeout: 10 * time.Second}}); err != nil {
			return err
		}
	}
	if err := mgr.Add(everyReplica{watcher}); err != nil {
		return err
	}
	if err := mgr.Add(leaderOnly{rec}); err != nil {
		return err
	}
	closeStore, err := addBackground(ctx, cfg, mgr, o, watcher, h.engine, direct)
	if err != nil {
		return err
	}
	defer closeStore()
	var dashboardAddr string
	if o.DashboardAddr != "" {
		dash := dashboardTLS{getCertificate: so.GetCertificate}
		if o.CertFile != "" {
			dash.certFile, dash.keyFile = o.CertFile, o.KeyFile
		}
		if dash.getCertificate == nil && dash.certFile == "" {
			dash.dnsNames = dashboardHosts(o)
		}
		addr, closeDashboard, err := addDashboard(ctx, mgr, o, cs, dash)
		if err != nil {
			return err
		}
		defer closeDashboard()
		dashboardAddr = addr
	}
	if err := addGenerate(mgr, o, watcher, h.engine, direct); err != nil {
		return err
	}
	if err := mgr.Add(leaderOnly{&policyStatus{cl: direct, disc: cs.Discovery(), watcher: watcher,
		recorder: mgr.GetEventRecorder("portcullis"), log: log}}); err != nil {
		return err
	}
	if slices.Contains(o.ExceptionNamespaces, "*") {
		log.Warn("PolicyExceptions are honoured in every namespace (--exceptions-namespace='*'): anyone who can create one can exempt their own resources from any policy")
	}
	if err := o.Registry.Register(ignoredExceptions{watcher}); err != nil {
		return fmt.Errorf("serve: register metrics: %w", err)
	}
	if err := o.Registry.Register(brokenPolicies{watcher}); err != nil {
		return fmt.Errorf("serve: metrics: %w", err)
	}
	if o.ReleaseExecutablePages {
		wait := []<-chan struct{}{watcher.Loaded()}
		if loader != nil {
			wait = append(wait, loader.ready)
		}
		if err := mgr.Add(everyReplica{manager.RunnableFunc(func(ctx context.Context) error {
			if waitAll(ctx, wait) {
				releaseExecutablePages(log, "ready")
			}
			return nil
		})}); err != nil {
			return err
		}
	}
	if started != nil {
		r := Running{Addr: srv.Addr().String(), MetricsAddr: metricsAddr, DashboardAddr: dashboardAddr, Policies: watcher,
			Elected: mgr.Elected(), Applied: rec.applied}
		wait := []<-chan struct{}{watcher.Loaded()}
		if loader != nil {
			wait = append(wait, loader.ready)
		}
		// Provided certificate files without a CA file publish nothing
		// (the configuration is then managed elsewhere).
		publishes := o.TLSSecret != "" || o.CertFile == "" || o.CAFile != ""
		if !o.LeaderElection && publishes {
			wait = append(wait, rec.applied)
		}
		if err := mgr.Add(everyReplica{manager.RunnableFunc(func(ctx context.Context) error {
			if !waitAll(ctx, wait) {
				return nil
			}
			log.Info("serving", "addr", r.Addr, "policies", watcher.Current().Len())
			started(r)
			return nil
		})}); err != nil {
			return err
		}
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// waitAll waits until every channel of chans is closed (true) or ctx ends
// (false).
func waitAll(ctx context.Context, chans []<-chan struct{}) bool {
	for _, ch := range chans {
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
	return true
}

// webhookURLHost returns the host of an https webhook URL (without
// brackets for IPv6), which a generated certificate must cover.
func webhookURLHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("serve: webhook URL: %w", err)
	}
	if u.Scheme != "https" || u.Hostname() == "" {
		return "", fmt.Errorf("serve: webhook URL %q: want https://HOST[:PORT][/PATH]", raw)
	}
	return u.Hostname(), nil
}

// ListenAddr returns the address the webhook listens on for port: on bind
// when it is set; otherwise, out of cluster (no serviceName, a
// webhookURL), on the URL's host only, since the API server reaches the
// webhook there; otherwise (in a cluster) on all interfaces.
func ListenAddr(bind string, port int, serviceName, webhookURL string) (string, error) {
	if bind == "" && serviceName == "" && webhookURL != "" {
		host, err := webhookURLHost(webhookURL)
		if err != nil {
			return "", err
		}
		bind = host
	}
	return net.JoinHostPort(bind, strconv.Itoa(port)), nil
}

// WebhookURLPort returns the port of an https webhook URL (443 when it
// names none).
func WebhookURLPort(webhookURL string) (int, error) {
	if _, err := webhookURLHost(webhookURL); err != nil {
		return 0, err
	}
	u, _ := url.Parse(webhookURL)
	if u.Port() == "" {
		return 443, nil
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("serve: webhook URL %q: bad port", webhookURL)
	}
	return p, nil
}

// caPublishTimeout bounds how long a rotation of a process's own CA waits
// for the webhook configuration to carry the new CA.
const caPublishTimeout = 10 * time.Second

// managerOptions configures the Manager: no metrics or probe server of its
// own (ours serve our registry, never the global one), leader election
// on a Lease, the certificate Secret cached by name only, and cached
// objects without their managedFields, Pods sharing their equal parts.
func managerOptions(scheme *runtime.Scheme, o Options) manager.Options {
	mo := manager.Options{
		Scheme:                 scheme,
		Logger:                 logr.FromSlogHandler(o.Logger.Handler()),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Cached objects without managedFields, Pods sharing their equal
		// parts (podtransform.go).
		Cache: cache.Options{Scheme: scheme, DefaultTransform: cacheTransform()},
	}
	// Room for the webhook's delay and drain (30 s) after the other parts stop.
	grace := o.ShutdownDelay + 35*time.Second
	mo.GracefulShutdownTimeout = &grace
	if o.TLSSecret != "" {
		mo.Cache.ByObject = map[client.Object]cache.ByObject{&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{o.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", o.TLSSecret),
		}}
	}
	if o.LeaderElection {
		mo.LeaderElection = true
		mo.LeaderElectionResourceLock = resourcelock.LeasesResourceLock
		mo.LeaderElectionID = o.LeaderElectionID
		mo.LeaderElectionNamespace = o.LeaderElectionNamespace
		mo.LeaderElectionReleaseOnCancel = true
		for _, d := range []struct {
			v   time.Duration
			dst **time.Duration
		}{{o.LeaseDuration, &mo.LeaseDuration}, {o.RenewDeadline, &mo.RenewDeadline}, {o.RetryPeriod, &mo.RetryPeriod}} {
			if d.v > 0 {
				v := d.v
				*d.dst = &v
			}
		}
	}
	return mo
}

// handler is the admission handler with the mux serving it.
type handler struct {
	admission *admission.Handler
	mux       *http.ServeMux
	// engine is the admission engine, shared by the background controller.
	engine *engine.Engine
}

// newHandler builds the admission handler: the engine with Kyverno
// verifyImages, ClusterImagePolicies, namespace labels and events.
func newHandler(o Options, watcher *policysource.Watcher, mgr manager.Manager, cs kubernetes.Interface, keys *keyStore) (*handler, error) {
	// Secrets (keys, pull secrets) and service accounts: see clients.go.
	objects := admissionObjects(mgr, o)
	iopts := o.Images
	if iopts.Secrets == nil {
		iopts.Secrets = objects
		iopts.SecretNamespace = o.Namespace
	}
	// Registry requests count per admission request (metrics).
	base := iopts.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	iopts.Transport = admission.CountRegistryRequests(base)
	verifier := imageverify.New(iopts)
	// Kyverno verifyImages rules share the verifier (and its cache).
	kyvernoImages := kyvernoimages.New(verifier, kyvernoimages.Options{
		Certificates: kyvernoimages.OfflineTrust(), Keys: kyvernoimages.SecretKeys(objects)})
	eng := engine.New(engine.WithImageVerifier(kyvernoImages),
		engine.WithImagePolicyVerifier(verifier, engine.ImagePolicyOptions{Keychain: regauth.PullSecretsKeychain(objects)}))
	var vc *admission.VerificationCacheOptions
	if keys != nil {
		vc = &admission.VerificationCacheOptions{Keys: keys.Keys, TTL: o.VerificationCacheTTL}
	}
	h, err := admission.NewHandler(admission.HandlerOptions{
		Policies:        readySource{watcher},
		Engine:          eng,
		NamespaceLabels: admission.NamespaceLabelsFromClient(cs, 30*time.Second),
		// configMap / apiCall context entries and CEL resource.Get/List
		// from the informer cache (clusterstore.go).
		Cluster:           newClusterStore(mgr.GetCache(), mgr.GetAPIReader(), mgr.GetRESTMapper(), mgr.GetScheme()),
		Recorder:          eventRecorder{mgr.GetEventRecorder("portcullis")},
		Logger:            o.Logger,
		Registry:          o.Registry,
		VerificationCache: vc,
		// Each webhook group's path evaluates the policies the validating
		// configuration (reconcile.go) registered for it.
		WebhookDefaults: admission.GroupDefaults{FailurePolicy: admissionregistrationv1.FailurePolicyType(o.FailurePolicy), TimeoutSeconds: o.TimeoutSeconds},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	// Policies that serve cannot enforce as written (globalReference and
	// imageRegistry context entries, apiCall service calls) are refused
	// before they are stored.
	mux.Handle(webhookconfig.ValidatePolicyPath, h.ValidatePolicyWith(policysource.Unsupported))
	return &handler{admission: h, mux: mux, engine: eng}, nil
}

// readySource reports no policies until the watcher has synced, so
// requests get 503 (the webhook's failurePolicy decides) until then.
type readySource struct{ w *policysource.Watcher }

func (r readySource) Current() *policy.Set {
	if !r.w.Ready() {
		return nil
	}
	return r.w.Current()
}

// maxEventNote is the longest note the events.k8s.io API accepts.
const maxEventNote = 1024

// eventRecorder turns admission events into Kubernetes Events
// (events.k8s.io, readable as core/v1 Events too).
type eventRecorder struct{ r events.EventRecorder }

func (e eventRecorder) Record(_ context.Context, ev admission.Event) {
	ref := &corev1.ObjectReference{APIVersion: ev.Resource.APIVersion, Kind: ev.Resource.Kind,
		Namespace: ev.Resource.Namespace, Name: ev.Resource.Name, UID: types.UID(ev.UID)}
	e.r.Eventf(ref, nil, ev.Type, ev.Reason, "Admission", "%s", truncate(ev.Message, maxEventNote))
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "..."
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// requireImagePolicyCRD fails with a clear message when the
// ClusterImagePolicy CRD is not installed.
func requireImagePolicyCRD(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("serve: discovery: %w", err)
	}
	list, err := dc.ServerResourcesForGroupVersion(sigv1.APIVersion)
	if err == nil {
		for _, r := range list.APIResources {
			if r.Kind == sigv1.KindClusterImagePolicy {
				return nil
			}
		}
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("serve: looking up the ClusterImagePolicy CRD: %w", err)
	}
	return fmt.Errorf("serve: the ClusterImagePolicy CRD (%s) is not installed: install the chart's CRDs or run with --image-policies=false", sigv1.APIVersion)
}

// releaseExecutablePages drops the executable's read-only pages from the
// resident set (Options.ReleaseExecutablePages) and logs what it did.
func releaseExecutablePages(log *slog.Logger, when string) {
	stats, err := execpages.Release()
	if err != nil {
		log.Warn("could not release the executable's pages", "when", when, "error", err)
		return
	}
	log.Debug("released the executable's pages", "when", when, "mappings", len(stats.Mappings), "residentKiB", stats.RssKB())
}
