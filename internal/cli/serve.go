//go:build !offline

package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/memlimit"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func newServeCommand() *cobra.Command {
	var (
		o                   serve.Options
		port                int
		bindAddress         string
		metricsAddr         string
		logLevel, logFormat string
		excluded            string
		kubeconfig          string
		failurePolicy       string
		tlsSecret           string
		insecureRegistries  bool
		trustRoots          []string
		memoryLimit         string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission webhook against the cluster's policies",
		Long: `Run the admission webhooks.

Policies come from the cluster: ClusterPolicy and Policy resources of --policy-group
(portcullis.dev by default, or kyverno.io when Kyverno is not installed) are watched and
recompiled as they change. Portcullis manages its own ValidatingWebhookConfiguration: its
rules are derived from the kinds the policies match, namespaces in --exclude-namespaces are
never sent, the CA bundle of the serving certificate is patched in, and a second webhook
refuses malformed policies at kubectl apply. Enforce failures deny with a message listing
every failed rule; Audit failures admit with warnings and a Kubernetes Event.

With --image-policies (the default), sigstore ClusterImagePolicies are watched too: every image
of a Pod or workload that a policy's globs cover must be signed as one of its authorities
requires, checked against the image's registry (results cached per digest); a denial names the
image, the policy and what failed (no signature, wrong key, registry unreachable). With
--mutating (the default), a MutatingWebhookConfiguration pins those images' tags to digests.

Kyverno PolicyExceptions (kyverno.io/v2) are off unless --exceptions-namespace names the
namespaces whose exceptions are honoured: an exception elsewhere is ignored and reported (log,
portcullis_policy_exceptions_ignored), so a tenant cannot exempt itself. An exempted rule is
skipped. '*' honours every namespace: then anyone who can create a PolicyException can exempt
their own resources from any policy.

With --cel-policies (the default), Kyverno's CEL policies (policies.kyverno.io ValidatingPolicy,
MutatingPolicy and GeneratingPolicy, and with --exceptions-namespace their PolicyException, honoured
in the same namespaces) are watched and enforced with the others when their CRDs are installed.

The webhook serves HTTPS on --webhook-port (/validate, /mutate, /healthz, /readyz, /metrics).
Out of cluster (--webhook-url without --service-name) it listens on the URL's host and port
(--webhook-bind-address and --webhook-port override them), and a generated certificate covers
the URL's host.
Without --tls-cert-file, a CA and serving certificate are generated and rotated: with
--tls-secret they are kept in that Secret and shared by every replica, otherwise each process
keeps its own (run a single replica then).

With --verification-cache (the default), the mutating webhook writes the image verdicts of an
admitted pod controller (Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet) into the
annotation portcullis.dev/verified of its pod template, signed with HMAC-SHA256 by a key kept in
--verification-key-secret; the ReplicaSets, Jobs and Pods created from the template are admitted
on it without registry requests, as long as the namespace, images, digests and policy versions
match and --verification-cache-ttl has not passed. Anything else is verified from the registry.

With --leader-elect (the Helm chart's default), the replicas elect a leader through the Lease
--leader-election-id in --leader-election-namespace (default --namespace). Every replica serves
admission requests and watches the policies; only the leader writes the webhook configurations
and the certificate Secret. The leader releases the Lease when it stops, so another replica
takes over within seconds. /readyz answers 503 until the policies are loaded and a serving
certificate is available.`,
		Example: `  # in-cluster (the Helm chart sets these)
  portcullis serve --namespace=portcullis --service-name=portcullis

  # out of cluster against a kubeconfig, webhook reachable at this host
  portcullis serve --kubeconfig ~/.kube/config --webhook-url https://10.0.0.5:9443`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return withCode(ExitInvalid, fmt.Errorf("invalid --log-level %q (want debug, info, warn or error)", logLevel))
			}
			hopts := &slog.HandlerOptions{Level: level}
			var h slog.Handler
			switch logFormat {
			case "json":
				h = slog.NewJSONHandler(cmd.ErrOrStderr(), hopts)
			case "text":
				h = slog.NewTextHandler(cmd.ErrOrStderr(), hopts)
			default:
				return withCode(ExitInvalid, fmt.Errorf("invalid --log-format %q (want json or text)", logFormat))
			}
			o.Logger = slog.New(h)
			if failurePolicy != "Fail" && failurePolicy != "Ignore" {
				return withCode(ExitInvalid, fmt.Errorf("invalid --failure-policy %q (want Fail or Ignore)", failurePolicy))
			}
			o.FailurePolicy = failurePolicy
			var err error
			if o.MemoryLimit, o.MemoryFloor, err = parseMemoryLimit(memoryLimit, o.Logger); err != nil {
				return withCode(ExitInvalid, err)
			}
			if o.GCPercent, err = gcPercent(cmd.Flags().Changed("gc-percent"), o.GCPercent, o.MemoryLimit, o.Logger); err != nil {
				return withCode(ExitInvalid, err)
			}
			// controller-runtime and client-go (leader election) log
			// through their process-wide loggers: route them to ours.
			ctrllog.SetLogger(logr.FromSlogHandler(h))
			klog.SetSlogLogger(o.Logger)
			o.Images.Insecure = insecureRegistries
			roots, err := readTrustRoots(trustRoots)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			o.Images.TrustRoots = roots
			o.TLSSecret = tlsSecret
			o.Store = storeURL(o.Store, os.Getenv)
			o.MetricsAddr = metricsAddr
			if excluded != "" {
				o.ExcludeNamespaces = strings.Split(excluded, ",")
			}
			if o.ServiceName == "" && o.WebhookURL != "" && !cmd.Flags().Changed("webhook-port") {
				// Out of cluster the URL says where the API server calls.
				if port, err = serve.WebhookURLPort(o.WebhookURL); err != nil {
					return withCode(ExitInvalid, err)
				}
			}
			if o.Addr, err = serve.ListenAddr(bindAddress, port, o.ServiceName, o.WebhookURL); err != nil {
				return withCode(ExitInvalid, err)
			}
			loading := clientcmd.NewDefaultClientConfigLoadingRules()
			loading.ExplicitPath = kubeconfig
			cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{})
			cfg, err := cc.ClientConfig()
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("kubernetes client configuration: %w", err))
			}
			// On by default; without the report CRDs it is then skipped
			// with a warning, while an explicit --background=true fails.
			o.BackgroundOptional = !cmd.Flags().Changed("background")
			if o.ClusterName == "" {
				// The kubeconfig's current context names the cluster; in a
				// cluster there is none.
				if raw, err := cc.RawConfig(); err == nil && raw.CurrentContext != "" {
					o.ClusterName = raw.CurrentContext
				}
			}
			return serve.Run(cmd.Context(), cfg, o, nil)
		},
	}
	f := cmd.Flags()
	f.IntVar(&port, "webhook-port", 9443, "HTTPS port of the webhook (default: 9443, or the port of --webhook-url without --service-name)")
	f.StringVar(&bindAddress, "webhook-bind-address", "", "address the webhook listens on (default: all interfaces with --service-name; the host of --webhook-url out of cluster)")
	f.StringVar(&metricsAddr, "metrics-addr", ":8080", "plain-HTTP address for /healthz, /readyz and /metrics (empty: only on the webhook port)")
	f.StringVar(&o.PolicyGroup, "policy-group", kyvernov1.PortcullisGroup, "API group of the ClusterPolicy/Policy CRDs to watch: portcullis.dev or kyverno.io")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the webhook Service (default $POD_NAMESPACE)")
	f.StringVar(&o.ServiceName, "service-name", "", "name of the webhook Service; empty: use --webhook-url")
	f.StringVar(&o.WebhookURL, "webhook-url", "", "URL the API server reaches the webhook at, when there is no Service")
	f.StringVar(&o.ConfigurationName, "validating-webhook-configuration", "portcullis", "name of the ValidatingWebhookConfiguration Portcullis manages")
	f.Int32Var(&o.TimeoutSeconds, "timeout-seconds", 10, "webhook timeout for policies that set none (1-30)")
	f.StringVar(&excluded, "exclude-namespaces", "", "comma-separated namespaces never sent to the webhook (default kube-system and --namespace)")
	f.StringVar(&o.CertFile, "tls-cert-file", "", "serving certificate (PEM); reloaded when it changes")
	f.StringVar(&o.KeyFile, "tls-key-file", "", "serving key (PEM)")
	f.StringVar(&o.CAFile, "tls-ca-file", "", "CA bundle to publish in the webhook configuration (with --tls-cert-file); reloaded when it changes")
	f.StringVar(&o.ClientCAFile, "client-ca-file", "", "require clients of the webhook port to present a certificate of these CAs (PEM): the API server's webhook client certificate, set in its admission configuration")
	f.BoolVar(&o.WebhookHTTP2, "webhook-http2", false, "offer HTTP/2 on the webhook port as well as HTTP/1.1 (the API server calls webhooks behind a Service over HTTP/1.1 only; HTTP/2 costs more CPU per review and is exposed to rapid-reset attacks, CVE-2023-44487)")
	f.Float32Var(&o.KubeAPIQPS, "kube-api-qps", serve.DefaultKubeAPIQPS, "requests per second the API clients may send (client-side limit; negative: none)")
	f.IntVar(&o.KubeAPIBurst, "kube-api-burst", serve.DefaultKubeAPIBurst, "burst of requests the API clients may send above --kube-api-qps")
	f.DurationVar(&o.ObjectCacheTTL, "object-cache-ttl", serve.DefaultObjectCacheTTL, "how long ServiceAccounts, pull Secrets and key Secrets read at admission are cached (negative: not cached)")
	f.StringVar(&o.CertDir, "cert-dir", "", "directory for the generated CA and certificate (default: memory only)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster or $KUBECONFIG)")
	f.StringVar(&failurePolicy, "failure-policy", "Fail", "webhook failure policy for policies that set no spec.failurePolicy: Fail or Ignore")
	f.BoolVar(&o.Mutating, "mutating", true, "manage the MutatingWebhookConfiguration that pins images covered by image policies to digests")
	f.StringVar(&o.MutatingConfigurationName, "mutating-webhook-configuration", "", "name of the MutatingWebhookConfiguration (default: the validating configuration's name)")
	f.StringSliceVar(&o.ExceptionNamespaces, "exceptions-namespace", nil, "namespace whose kyverno.io/v2 PolicyExceptions are honoured (repeatable or comma-separated; the PolicyException CRD must be installed). Default: none, exceptions are off. '*' honours exceptions in every namespace: WARNING, anyone who can create a PolicyException anywhere can then exempt their own resources from any policy")
	f.BoolVar(&o.CELPolicies, "cel-policies", true, "watch the Kyverno CEL policy kinds of policies.kyverno.io (ValidatingPolicy, MutatingPolicy, GeneratingPolicy and, with --exceptions-namespace, their PolicyException) whose CRDs are installed; a kind whose CRD is absent is logged and looked for again every minute")
	f.BoolVar(&o.ImagePolicies, "image-policies", true, "watch sigstore ClusterImagePolicies (policy.sigstore.dev/v1beta1; the CRD must be installed) and verify Pod and workload images against them")
	f.StringArrayVar(&trustRoots, "trust-root", nil, "NAME=FILE: a sigstore trusted_root.json that keyless ClusterImagePolicy authorities name in trustRootRef (repeatable)")
	f.BoolVar(&insecureRegistries, "insecure-registries", false, "allow plain-HTTP registries that are not on loopback or a private network")
	f.StringVar(&o.OwnerClusterRole, "owner-cluster-role", "", "ClusterRole that owns the webhook configuration, so uninstalling deletes it")
	f.StringVar(&tlsSecret, "tls-secret", "", "Secret (in --namespace) holding the generated CA and certificate, shared by all replicas")
	f.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader (coordination.k8s.io Lease) to write the webhook configurations and the certificate Secret; all replicas serve")
	f.DurationVar(&o.ShutdownDelay, "shutdown-delay", 0, "on SIGTERM, keep serving this long with /readyz failing before draining in-flight requests (in a cluster: time for the endpoints to drop the pod)")
	f.StringVar(&o.LeaderElectionID, "leader-election-id", "portcullis", "name of the leader-election Lease")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default --namespace)")
	f.BoolVar(&o.Background, "background", true, "continuous verification on the leader: evaluate what already runs, again when it or the policies change, and keep wgpolicyk8s.io PolicyReports (needs their CRDs, installed by the chart; without them it is off with a warning unless --background is given explicitly)")
	f.BoolVar(&o.Generate, "generate", true, "run Kyverno generate rules and GeneratingPolicies on the leader: create the objects they generate for each matching resource through the API server, and keep synchronized ones (the chart's generate.resources must grant the generated kinds); also apply Kyverno mutate rules with targets to existing resources (generate.mutateTargets)")
	f.DurationVar(&o.BackgroundInterval, "background-interval", time.Hour, "re-evaluate every object this often (time-dependent rules, image signatures)")
	f.StringVar(&o.EventsSink, "events-sink", "", "URL receiving a CloudEvent (HTTP binary mode) for each compliance change seen by the background controller: dev.portcullis.violation.v1 and dev.portcullis.resolution.v1")
	f.StringVar(&o.ClusterName, "cluster-name", "", "cluster name, the source of the CloudEvents (default: the kubeconfig's current context, or in-cluster)")
	f.BoolVar(&o.VerificationCache, "verification-cache", true, "signed verification cache: the mutating webhook records the image verdicts of a pod controller in an annotation of its pod template (portcullis.dev/verified, signed with a key only Portcullis holds), and the ReplicaSets, Jobs and Pods created from it are admitted without registry requests; acts only while image policies exist")
	f.DurationVar(&o.VerificationCacheTTL, "verification-cache-ttl", time.Hour, "how long a recorded verification stands in for the registry")
	f.StringVar(&o.VerificationKeySecret, "verification-key-secret", "", "Secret (in --namespace) holding the verification cache's signing keys, shared by all replicas; created when absent, rotated when its portcullis.dev/rotate-key annotation changes (empty: a key in memory, one replica only)")
	f.DurationVar(&o.VerificationKeyOverlap, "verification-key-overlap", 0, "how long records signed by a rotated-out key stay valid (default --verification-cache-ttl)")
	f.StringVar(&o.Store, "store", "", "findings store: postgres://USER:PASSWORD@HOST/DB, or a SQLite file (sqlite://PATH or a path); records the background controller's results and compliance transitions (default: $"+StoreEnv+", so a password stays out of the arguments; else SQLite under --data-dir when it is set; else none)")
	f.StringVar(&o.DataDir, "data-dir", "", "directory of the embedded SQLite findings store ("+store.DefaultFile+"), when --store is not set")
	f.DurationVar(&o.Retention, "retention", store.DefaultRetention, "how long the findings store keeps history (transitions, daily counts, scans, deleted resources)")
	f.StringVar(&o.DashboardAddr, "dashboard-addr", "", "HOST:PORT of the findings dashboard (HTTPS with the webhook's certificate; callers sign in with Kubernetes tokens and see the namespaces where they may list policyreports.wgpolicyk8s.io); needs --store or --data-dir (empty: off)")
	f.BoolVar(&o.ReportPasses, "report-passes", false, "list passing and skipped results in PolicyReports too (the summary counts them either way)")
	f.StringVar(&memoryLimit, "memory-limit", "", "soft memory limit of the Go runtime (e.g. 200Mi; 0: none): the garbage collector works harder near it instead of letting the heap grow to twice what is live (default: GOMEMLIMIT when set, else 90% of the container's memory limit, else one following the live heap: "+
		fmt.Sprintf("the larger of %dMi and the live heap plus %d%%)", serve.DefaultMemoryFloor>>20, memlimit.Growth))
	f.BoolVar(&o.ReleaseExecutablePages, "release-executable-pages", true, "(Linux) once ready and after each burst of background evaluations, drop the executable's code and read-only data pages from the resident set (madvise MADV_DONTNEED; they stay in the page cache, where the kernel can reclaim them, and are mapped again on use): RssFile falls from 70-80 MiB to what is in use; =false keeps them mapped")
	f.IntVar(&o.GCPercent, "gc-percent", 0, fmt.Sprintf("the Go garbage collector's GOGC: how far the heap may grow over what is live between collections, in percent (default: GOGC when set, else %d when a memory limit is in force, else 100)", serve.GCPercentWithMemoryLimit))
	return cmd
}

// gcPercent checks --gc-percent, or chooses serve.DefaultGCPercent when
// it was not given.
func gcPercent(given bool, flag int, memoryLimit int64, log *slog.Logger) (int, error) {
	if given {
		if flag <= 0 {
			return 0, fmt.Errorf("invalid --gc-percent %d (want a positive percentage; GOGC=off turns the collector off)", flag)
		}
		return flag, nil
	}
	percent, source := serve.DefaultGCPercent(os.Getenv, memoryLimit)
	if percent > 0 {
		log.Info("Go garbage collector target chosen", "gcPercent", percent, "because", source)
	}
	return percent, nil
}

// StoreEnv names the environment variable serve reads the findings store's
// URL from when --store is not given (the Helm chart sets it from a
// Secret, so a database password never appears in the arguments).
const StoreEnv = "PORTCULLIS_STORE"

// storeURL is --store, or else $PORTCULLIS_STORE.
func storeURL(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	return getenv(StoreEnv)
}

// parseMemoryLimit reads --memory-limit: a quantity, 0 for none, or
// empty for serve.DefaultMemoryLimit (from the cgroup's memory limit),
// else, unless GOMEMLIMIT is set, a limit following the live heap from
// serve.DefaultMemoryFloor (floor).
func parseMemoryLimit(flag string, log *slog.Logger) (limit, floor int64, err error) {
	if flag == "" {
		limit, source, err := serve.DefaultMemoryLimit(os.Getenv, "/sys/fs/cgroup")
		if err != nil {
			log.Warn("no Go memory limit from the container's", "error", err)
		}
		if limit > 0 {
			log.Info("Go memory limit from the container's", "bytes", limit, "source", source)
			return limit, 0, nil
		}
		if source == "GOMEMLIMIT" {
			return 0, 0, nil
		}
		return 0, serve.DefaultMemoryFloor, nil
	}
	q, err := resource.ParseQuantity(flag)
	if err != nil || q.Sign() < 0 {
		return 0, 0, fmt.Errorf("invalid --memory-limit %q (want a quantity such as 200Mi, or 0)", flag)
	}
	return q.Value(), 0, nil
}
