package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// AssetsEnv names the directory holding kube-apiserver, etcd and kubectl.
	AssetsEnv = "KUBEBUILDER_ASSETS"
	// RequireEnv set to 1 turns a missing AssetsEnv into a failure.
	RequireEnv = "PORTCULLIS_E2E"

	// StartTimeout bounds the start of etcd and of kube-apiserver, each
	// (envtest's default is 20 s; a busy 2-core machine needs more headroom).
	StartTimeout = 60 * time.Second
)

// Required reports whether PORTCULLIS_E2E=1 asks the e2e tests to fail
// rather than skip when they cannot run.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// AssetsDir returns $KUBEBUILDER_ASSETS after checking that it holds the
// three binaries. When it is unset it skips tb, or fails it if Required().
func AssetsDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		msg := fmt.Sprintf("%s is not set: run `export %s=\"$(hack/envtest/build.sh)\"` "+
			"to build kube-apiserver and etcd (cached per version), or hack/envtest/test.sh", AssetsEnv, AssetsEnv)
		if Required() {
			tb.Fatalf("%s=1 requires the e2e tests to run, but %s", RequireEnv, msg)
		}
		tb.Skip(msg)
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			tb.Fatalf("%s=%s: %v (rebuild with hack/envtest/build.sh)", AssetsEnv, dir, err)
		}
	}
	return dir
}

// Options adjust the environment before it starts. The zero value starts a
// bare apiserver with client-go's scheme.
type Options struct {
	// Scheme for the client (and for envtest's CRD conversion checks);
	// client-go's scheme.Scheme when nil.
	Scheme *runtime.Scheme

	// CRDDirectoryPaths are installed after the apiserver is up; a missing
	// path is an error.
	CRDDirectoryPaths []string

	// ValidatingWebhooks and MutatingWebhooks are installed after the
	// apiserver is up. envtest points every webhook whose
	// ClientConfig.Service.Path is set at
	// https://<LocalServingHost>:<LocalServingPort>/<path> and sets its
	// CABundle; the webhook server must then serve there with the
	// certificate in LocalServingCertDir (see Env.Webhook). Installation
	// only waits for the configurations to be visible, not for the server.
	ValidatingWebhooks []*admissionregistrationv1.ValidatingWebhookConfiguration
	MutatingWebhooks   []*admissionregistrationv1.MutatingWebhookConfiguration

	// Configure, if set, is called on the environment just before Start,
	// for anything else (apiserver flags, WebhookInstallOptions.Paths, ...).
	Configure func(*envtest.Environment)
}

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	// Started is how long envtest's Start took.
	Started time.Duration
}

// WebhookServing says where a webhook server must listen so that the
// webhooks from Options reach it, and the directory holding its serving
// certificate (tls.crt, tls.key), which envtest's CA signed for host. With
// controller-runtime's webhook server:
//
//	host, port, dir := env.Webhook()
//	srv := webhook.NewServer(webhook.Options{Host: host, Port: port, CertDir: dir})
//
// The address and certificate are allocated even when no webhook is installed.
func (e *Env) Webhook() (host string, port int, certDir string) {
	o := e.Environment.WebhookInstallOptions
	return o.LocalServingHost, o.LocalServingPort, o.LocalServingCertDir
}

var setLogger sync.Once

// Start starts etcd and kube-apiserver from AssetsDir (skipping or failing tb
// as AssetsDir does), installs what opts lists, and stops everything when tb
// ends. A control plane takes a few seconds to start: share one per package
// (TestMain) or per test group rather than starting one per test.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()
	dir := AssetsDir(tb)

	setLogger.Do(func() {
		// envtest logs retries and errors through controller-runtime's
		// logger; without one it complains after 30 s.
		ctrllog.SetLogger(funcr.New(func(prefix, args string) {
			fmt.Fprintln(os.Stderr, "envtest:", prefix, args)
		}, funcr.Options{}))
	})

	scheme := opts.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		Scheme:                scheme,
		CRDDirectoryPaths:     opts.CRDDirectoryPaths,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			ValidatingWebhooks: opts.ValidatingWebhooks,
			MutatingWebhooks:   opts.MutatingWebhooks,
		},
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		te.ControlPlaneStartTimeout = StartTimeout
	}
	if opts.Configure != nil {
		opts.Configure(te)
	}

	// Stop also covers a Start that failed half-way (etcd up, apiserver not).
	tb.Cleanup(func() {
		if err := te.Stop(); err != nil {
			tb.Errorf("stopping envtest: %v", err)
		}
	})
	t0 := time.Now()
	cfg, err := te.Start()
	if err != nil {
		tb.Fatalf("starting envtest from %s=%s: %v", AssetsEnv, dir, err)
	}
	started := time.Since(t0)

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		tb.Fatalf("client for envtest: %v", err)
	}
	return &Env{Environment: te, Config: cfg, Client: c, Scheme: scheme, Started: started}
}
