package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/background"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/sink/report"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/pager"
)

// clusterPageSize is how many objects one list request asks for.
const clusterPageSize = 500

// rbacKinds are listed with every cluster scan that has a policy on RBAC
// objects or service accounts; Kubescape libraries ask for them through
// their rules' match, added by the caller as extra kinds.
var rbacKinds = []schema.GroupVersionKind{
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "Namespace"},
}

// networkPolicyKind is listed for the lookups of CEL policies.
var networkPolicyKind = schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}

// clusterOptions says which cluster to scan.
type clusterOptions struct {
	kubeconfig, context string
	// excludeNamespaces are left out of the listing.
	excludeNamespaces []string
	// extraKinds are listed besides what the policies match (the kinds a
	// control library's rules match).
	extraKinds []schema.GroupVersionKind
}

// clusterScan is what was read from a cluster.
type clusterScan struct {
	// name is the kubeconfig context (or the server) the documents name as
	// their source: "cluster:NAME".
	name string
	docs []manifest.Document
	// notScanned are the kinds that could not be listed, with the reason.
	notScanned []report.NotScanned
}

// restConfig loads the client configuration of o: --kubeconfig (else
// $KUBECONFIG, ~/.kube/config, in-cluster) and --context.
func restConfig(o clusterOptions) (*rest.Config, string, error) {
	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = o.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load the kubeconfig: %w", err)
	}
	name := o.context
	if name == "" {
		if raw, err := cc.RawConfig(); err == nil {
			name = raw.CurrentContext
		}
	}
	if name == "" {
		name = cfg.Host
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "portcullis-scan"
	return cfg, name, nil
}

// readCluster lists every object of the kinds set matches (and
// o.extraKinds; set may be nil) page by page. A cluster it cannot reach is an error; a
// kind it may not list (RBAC) or that fails is recorded in notScanned and
// the others are still listed. status, when set, is told which kind is
// being listed.
func readCluster(ctx context.Context, set *policy.Set, o clusterOptions, status func(kind string, kinds, done, objects int)) (*clusterScan, error) {
	cfg, name, err := restConfig(o)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, fmt.Errorf("cannot reach the cluster %s at %s: %w", name, cfg.Host, err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	var kinds []schema.GroupVersionKind
	if set != nil {
		kinds = background.Kinds(set, mapper)
	}
	if set != nil && set.UsesCEL() {
		// CEL policies look objects up (resource.List): the built-in
		// network policy control reads the NetworkPolicies of each
		// namespace.
		o.extraKinds = append(o.extraKinds, networkPolicyKind)
	}
	for _, g := range append(slices.Clone(o.extraKinds), rbacKinds...) {
		if !slices.Contains(kinds, g) && (slices.Contains(o.extraKinds, g) || setMatches(set, g.Kind)) {
			kinds = append(kinds, g)
		}
	}
	cs := &clusterScan{name: name}
	source := "cluster:" + name
	excluded := map[string]bool{}
	for _, ns := range o.excludeNamespaces {
		excluded[ns] = true
	}
	for i, gvk := range kinds {
		if status != nil {
			status(gvk.Kind, len(kinds), i, len(cs.docs))
		}
		what := gvkName(gvk)
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // not served by this cluster: nothing to scan
			}
			cs.notScanned = append(cs.notScanned, report.NotScanned{What: what, Reason: err.Error()})
			continue
		}
		ri := dyn.Resource(m.Resource)
		p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return ri.List(ctx, opts)
		})
		p.PageSize = clusterPageSize
		err = p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("unexpected list item %T", obj)
			}
			if excluded[u.GetNamespace()] || (gvk.Kind == "Namespace" && gvk.Group == "" && excluded[u.GetName()]) {
				return nil
			}
			unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
			if u.GetAPIVersion() == "" {
				u.SetAPIVersion(gvk.GroupVersion().String())
				u.SetKind(gvk.Kind)
			}
			cs.docs = append(cs.docs, manifest.Document{Source: source, Index: len(cs.docs) + 1, Object: u.Object})
			return nil
		})
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, fmt.Errorf("list %s: %w", what, ctx.Err())
		case apierrors.IsForbidden(err):
			cs.notScanned = append(cs.notScanned, report.NotScanned{What: what, Reason: "forbidden: the credentials may not list " + m.Resource.Resource})
		default:
			cs.notScanned = append(cs.notScanned, report.NotScanned{What: what, Reason: err.Error()})
		}
	}
	if status != nil {
		status("", len(kinds), len(kinds), len(cs.docs))
	}
	return cs, nil
}

// setMatches reports whether a rule of set can match kind.
func setMatches(set *policy.Set, kind string) bool {
	return set != nil && len(set.RulesFor(kind)) > 0
}

// gvkName names a kind for people: "rbac.authorization.k8s.io/v1
// ClusterRole", "v1 Pod".
func gvkName(g schema.GroupVersionKind) string {
	return strings.TrimPrefix(g.GroupVersion().String()+" "+g.Kind, "/")
}
