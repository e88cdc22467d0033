package policysource

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CELKinds are the policies.kyverno.io kinds the Watcher watches with
// Options.CELPolicies, when their CRD is installed: the kinds
// policy.Compile evaluates (ImageValidatingPolicy and DeletingPolicy are
// not compiled yet, so not watched). The PolicyException of the group is
// watched only with Options.ExceptionNamespaces, as kyverno.io's is.
var CELKinds = []string{policiesv1.KindValidatingPolicy, policiesv1.KindMutatingPolicy, policiesv1.KindGeneratingPolicy,
	policiesv1.KindPolicyException}

// CELVersions are the policies.kyverno.io versions policy.Compile reads,
// preferred first. The Watcher watches one served version of each kind:
// the API server returns every stored object in it, whatever version it
// was written in.
var CELVersions = []string{"v1", "v1beta1", "v1alpha1"}

// DefaultCRDRecheck is how often the Watcher looks again for the CRDs of
// CEL kinds that were not installed (Options.CRDRecheck).
const DefaultCRDRecheck = time.Minute

// isCELException reports whether gvk is the policies.kyverno.io
// PolicyException (any version).
func isCELException(gvk schema.GroupVersionKind) bool {
	return gvk.Group == policiesv1.Group && gvk.Kind == policiesv1.KindPolicyException
}

// isException reports whether gvk is a PolicyException the Watcher
// honours only in Options.ExceptionNamespaces.
func isException(gvk schema.GroupVersionKind) bool {
	return gvk == ExceptionGVK || isCELException(gvk)
}

// celWanted returns the CEL kinds to watch under the options.
func (w *Watcher) celWanted() []string {
	if !w.opts.CELPolicies {
		return nil
	}
	var out []string
	for _, k := range CELKinds {
		if k == policiesv1.KindPolicyException && len(w.opts.ExceptionNamespaces) == 0 {
			continue
		}
		out = append(out, k)
	}
	return out
}

// servedCELKinds returns, for each kind of kinds whose CRD is installed,
// the version to watch (the first of CELVersions the API server serves
// it in). A kind missing from the result is not installed, or discovery
// failed (err, for the log).
func (w *Watcher) servedCELKinds(kinds []string) (map[string]schema.GroupVersionKind, error) {
	groups, err := w.opts.Discovery.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovery of API groups: %w", err)
	}
	var served []string
	for _, g := range groups.Groups {
		if g.Name != policiesv1.Group {
			continue
		}
		for _, v := range g.Versions {
			served = append(served, v.Version)
		}
	}
	out := map[string]schema.GroupVersionKind{}
	for _, v := range CELVersions {
		if !slices.Contains(served, v) {
			continue
		}
		gv := schema.GroupVersion{Group: policiesv1.Group, Version: v}
		list, err := w.opts.Discovery.ServerResourcesForGroupVersion(gv.String())
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("discovery of %s: %w", gv, err)
		}
		for _, r := range list.APIResources {
			if _, done := out[r.Kind]; !done && slices.Contains(kinds, r.Kind) && !strings.Contains(r.Name, "/") {
				out[r.Kind] = gv.WithKind(r.Kind)
			}
		}
	}
	return out, nil
}

// discoverCEL starts watching the CEL kinds whose CRD is now installed
// and logs, once per kind, those that are not. It reports whether a kind
// was added.
func (w *Watcher) discoverCEL(ctx context.Context) (bool, error) {
	w.kindsMu.Lock()
	var missing []string
	for _, k := range w.celWanted() {
		if _, ok := w.celGVKs[k]; !ok {
			missing = append(missing, k)
		}
	}
	w.kindsMu.Unlock()
	if len(missing) == 0 {
		return false, nil
	}
	found, derr := w.servedCELKinds(missing)
	added := false
	for _, k := range missing {
		gvk, ok := found[k]
		if !ok {
			if !w.celAbsentLogged[k] {
				w.celAbsentLogged[k] = true
				args := []any{"kind", k, "group", policiesv1.Group, "recheck", w.opts.CRDRecheck}
				if derr != nil {
					args = append(args, "error", derr)
				}
				w.opts.Logger.Info("CEL policy kind not watched: its CRD is not installed (looked for again periodically)", args...)
			}
			continue
		}
		if err := w.watch(ctx, gvk); err != nil {
			return added, err
		}
		w.kindsMu.Lock()
		w.celGVKs[k] = gvk
		w.kindsMu.Unlock()
		w.opts.Logger.Info("watching CEL policy kind", "kind", k, "apiVersion", gvk.GroupVersion().String())
		added = true
	}
	return added, nil
}

// WatchedKinds returns the kinds the Watcher watches, with the version it
// reads them in: after Start, those of the static kinds and the CEL kinds
// whose CRD was found.
func (w *Watcher) WatchedKinds() []schema.GroupVersionKind { return w.gvks() }
