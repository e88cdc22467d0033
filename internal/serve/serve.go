// Package serve wires `portcullis serve`: the policy watcher, the admission
// handler and its HTTPS server, the validating webhook configuration kept
// in step with the policies and the serving CA, Kubernetes Events, and the
// webhook that validates policy resources before they are stored.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/kyvernoimages"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/portcullis/portcullis/internal/webhookconfig"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	// https://<listen address>.
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
	// Mutating manages a MutatingWebhookConfiguration (named
	// MutatingConfigurationName, default ConfigurationName) that pins the
	// images image policies cover to digests.
	Mutating                  bool
	MutatingConfigurationName string
	// Images configures registry access for image verification.
	Images imageverify.Options
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
	if o.TimeoutSeconds == 0 {
		o.TimeoutSeconds = 10
	}
	return o
}

// Running is a started server, for callers (tests) that need its address.
type Running struct {
	// Addr is the address the webhook listens on.
	Addr string
	// MetricsAddr is the plain-HTTP health and metrics address ("" when none).
	MetricsAddr string
	// Policies is the watcher serving the current policy set.
	Policies *policysource.Watcher
}

// Run serves until ctx is done. started, when not nil, is called once the
// webhook listens, the policies are loaded and the webhook configuration
// is applied.
func Run(ctx context.Context, cfg *rest.Config, o Options, started func(Running)) error {
	o = o.withDefaults()
	log := o.Logger
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("serve: cache: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("serve: client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("serve: clientset: %w", err)
	}
	if o.ImagePolicies {
		if err := requireImagePolicyCRD(cfg); err != nil {
			return err
		}
	}
	watcher, err := policysource.New(c, policysource.Options{Group: o.PolicyGroup, Logger: log, ImagePolicies: o.ImagePolicies})
	if err != nil {
		return err
	}
	// Secrets (keys, pull secrets) and service accounts are read directly,
	// not through informers: no cluster-wide cache of every Secret.
	objects := regauth.ClientReader(cl)
	iopts := o.Images
	if iopts.Secrets == nil {
		iopts.Secrets = objects
		iopts.SecretNamespace = o.Namespace
	}
	verifier := imageverify.New(iopts)
	// Kyverno verifyImages rules share the verifier (and its cache).
	kyvernoImages := kyvernoimages.New(verifier, kyvernoimages.Options{
		Certificates: kyvernoimages.OfflineTrust(), Keys: kyvernoimages.SecretKeys(objects)})

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "portcullis"})

	h, err := admission.NewHandler(admission.HandlerOptions{
		Policies: readySource{watcher},
		Engine: engine.New(engine.WithImageVerifier(kyvernoImages),
			engine.WithImagePolicyVerifier(verifier, engine.ImagePolicyOptions{Keychain: regauth.PullSecretsKeychain(objects)})),
		NamespaceLabels: admission.NamespaceLabelsFromClient(cs, 30*time.Second),
		Recorder:        eventRecorder{recorder},
		Logger:          log,
		Registry:        o.Registry,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle(webhookconfig.ValidatePolicyPath, h.ValidatePolicy())

	var mu sync.Mutex
	var caBundle []byte
	apply := func() error {
		mu.Lock()
		ca, url := caBundle, o.WebhookURL
		mu.Unlock()
		if len(ca) == 0 || !watcher.Ready() {
			return nil
		}
		wo := webhookconfig.Options{
			Name: o.ConfigurationName, Service: o.ServiceName, Namespace: o.Namespace, URL: url,
			ExcludeNamespaces: o.ExcludeNamespaces, PolicyGroup: o.PolicyGroup, DefaultTimeoutSeconds: o.TimeoutSeconds,
			DefaultFailurePolicy: admissionregistrationv1.FailurePolicyType(o.FailurePolicy),
			ImagePolicies:        len(watcher.ImagePolicies()) > 0 || watcher.Current().HasVerifyImages(),
			WatchImagePolicies:   o.ImagePolicies,
		}
		desired := webhookconfig.Desired(watcher.Current(), ca, wo)
		var owners []metav1.OwnerReference
		if o.OwnerClusterRole != "" {
			owner := &rbacv1.ClusterRole{}
			if err := cl.Get(ctx, client.ObjectKey{Name: o.OwnerClusterRole}, owner); err != nil {
				return fmt.Errorf("owner ClusterRole %s: %w", o.OwnerClusterRole, err)
			}
			owners = []metav1.OwnerReference{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole",
				Name: owner.Name, UID: owner.UID}}
			desired.OwnerReferences = owners
		}
		if err := webhookconfig.Apply(ctx, cl, desired); err != nil {
			return err
		}
		if !o.Mutating {
			return nil
		}
		if o.MutatingConfigurationName != "" {
			wo.Name = o.MutatingConfigurationName
		}
		mutating := webhookconfig.DesiredMutating(ca, wo)
		mutating.OwnerReferences = owners
		return webhookconfig.ApplyMutating(ctx, cl, mutating)
	}
	var shared *secretCerts
	if o.TLSSecret != "" {
		if o.Namespace == "" {
			return errors.New("serve: --tls-secret needs --namespace")
		}
		dir := o.CertDir
		if dir == "" {
			d, err := os.MkdirTemp("", "portcullis-certs-")
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			defer os.RemoveAll(d)
			dir = d
		}
		hosts := append([]string{}, o.DNSNames...)
		if o.ServiceName != "" {
			hosts = append(hosts, o.ServiceName, o.ServiceName+"."+o.Namespace, o.ServiceName+"."+o.Namespace+".svc",
				o.ServiceName+"."+o.Namespace+".svc.cluster.local")
		}
		shared = &secretCerts{cs: cs, namespace: o.Namespace, name: o.TLSSecret, hosts: hosts, validity: o.CertValidity, dir: dir, log: log}
		ca, _, err := shared.sync(ctx)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		caBundle = ca
		o.CertFile, o.KeyFile = shared.certFile(), shared.keyFile()
	}
	so := admission.ServerOptions{Addr: o.Addr, CertFile: o.CertFile, KeyFile: o.KeyFile, CertDir: o.CertDir,
		ServiceName: o.ServiceName, ServiceNamespace: o.Namespace, DNSNames: o.DNSNames, Logger: log,
		OnCABundle: func(b []byte) {
			mu.Lock()
			caBundle = append([]byte(nil), b...)
			mu.Unlock()
			if err := apply(); err != nil {
				log.Error("apply webhook configuration", "error", err)
			}
		}}
	if o.CertFile != "" {
		// Provided or shared certificates: the CA comes from the file or
		// the Secret, not from the server.
		so.OnCABundle = nil
		so.ReloadInterval = 2 * time.Second
	}
	srv, err := admission.NewServer(mux, so)
	if err != nil {
		return err
	}
	if o.CAFile != "" {
		b, err := readFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("serve: CA file: %w", err)
		}
		caBundle = b
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if o.ServiceName == "" && o.WebhookURL == "" {
		mu.Lock()
		o.WebhookURL = "https://" + srv.Addr().String()
		mu.Unlock()
	}

	var metricsSrv *http.Server
	var metricsLn net.Listener
	if o.MetricsAddr != "" {
		plain := http.NewServeMux()
		for _, p := range []string{admission.PathHealthz, admission.PathReadyz, admission.PathMetrics} {
			plain.Handle(p, h)
		}
		metricsLn, err = net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("serve: metrics listener: %w", err)
		}
		metricsSrv = &http.Server{Handler: plain, ReadHeaderTimeout: 10 * time.Second}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if metricsSrv != nil {
		go func() { _ = metricsSrv.Serve(metricsLn) }()
		go func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = metricsSrv.Shutdown(sctx)
		}()
	}
	errc := make(chan error, 3)
	go func() { errc <- c.Start(ctx) }()
	go func() { errc <- watcher.Start(ctx) }()
	go func() { errc <- srv.Run(ctx) }()
	if shared != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(shared.next()):
				}
				ca, changed, err := shared.sync(ctx)
				if err != nil {
					log.Error("sync certificate Secret", "error", err)
					continue
				}
				if changed {
					mu.Lock()
					caBundle = ca
					mu.Unlock()
					if err := apply(); err != nil {
						log.Error("apply webhook configuration", "error", err)
					}
				}
			}
		}()
	}

	// Wait for the first policy set, then keep the configuration in step.
	updates := watcher.Subscribe()
	for !watcher.Ready() {
		select {
		case <-ctx.Done():
			return waitAll(errc, 3)
		case err := <-errc:
			cancel()
			return errors.Join(err, waitAll(errc, 2))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := apply(); err != nil {
		cancel()
		return errors.Join(err, waitAll(errc, 3))
	}
	log.Info("serving", "addr", srv.Addr().String(), "policies", watcher.Current().Len())
	if started != nil {
		r := Running{Addr: srv.Addr().String(), Policies: watcher}
		if metricsLn != nil {
			r.MetricsAddr = metricsLn.Addr().String()
		}
		started(r)
	}
	for {
		select {
		case <-ctx.Done():
			return waitAll(errc, 3)
		case err := <-errc:
			cancel()
			return errors.Join(err, waitAll(errc, 2))
		case <-updates:
			if err := apply(); err != nil {
				log.Error("apply webhook configuration", "error", err)
			}
		}
	}
}

func waitAll(errc chan error, n int) error {
	var errs []error
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readySource reports no policies until the watcher has synced, so
// /readyz stays false and requests get 503 (the webhook's failurePolicy
// decides) until then.
type readySource struct{ w *policysource.Watcher }

func (r readySource) Current() *policy.Set {
	if !r.w.Ready() {
		return nil
	}
	return r.w.Current()
}

// eventRecorder turns admission events into Kubernetes Events.
type eventRecorder struct{ r record.EventRecorder }

func (e eventRecorder) Record(_ context.Context, ev admission.Event) {
	ref := &corev1.ObjectReference{APIVersion: ev.Resource.APIVersion, Kind: ev.Resource.Kind,
		Namespace: ev.Resource.Namespace, Name: ev.Resource.Name, UID: types.UID(ev.UID)}
	e.r.Event(ref, ev.Type, ev.Reason, ev.Message)
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

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
