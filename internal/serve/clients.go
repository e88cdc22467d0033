package serve

import (
	"time"

	"github.com/portcullis/portcullis/internal/regauth"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Defaults of the API clients' client-side rate limit. client-go's own (5
// requests/s, bursts of 10) queues admissions behind each other as soon as
// a few Pods per second need a lookup.
const (
	DefaultKubeAPIQPS   = 50
	DefaultKubeAPIBurst = 100
)

// DefaultObjectCacheTTL is how long ServiceAccounts, pull Secrets and key
// Secrets read at admission are served from memory.
const DefaultObjectCacheTTL = 10 * time.Second

// withRateLimits returns a copy of cfg with the client-side rate limit of
// o (defaults DefaultKubeAPIQPS / DefaultKubeAPIBurst). A negative QPS
// turns the limiter off, as in client-go.
func withRateLimits(cfg *rest.Config, o Options) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	if cfg.QPS == 0 {
		cfg.QPS = DefaultKubeAPIQPS
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultKubeAPIBurst
	}
	return cfg
}

// admissionObjects reads the ServiceAccounts, pull Secrets and key Secrets
// admission needs: GETs straight to the API server (no informer over every
// Secret of the cluster, so the RBAC rules grant get only), behind a short
// TTL cache shared by validate and mutate (ObjectCacheTTL; negative: no
// cache).
func admissionObjects(mgr manager.Manager, o Options) regauth.Reader {
	direct := regauth.ClientReader(mgr.GetAPIReader())
	if o.ObjectCacheTTL < 0 {
		return direct
	}
	ttl := o.ObjectCacheTTL
	if ttl == 0 {
		ttl = DefaultObjectCacheTTL
	}
	return regauth.CachedReader(direct, regauth.CacheOptions{TTL: ttl})
}
