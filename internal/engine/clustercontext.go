package engine

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/variables"
)

// loadConfigMap reads the ConfigMap of a configMap context entry. As in
// Kyverno, the entry's value is the ConfigMap object (`{{ cm.data.key }}`)
// and a ConfigMap that cannot be read is an error: the entry has no
// default.
func loadConfigMap(ctx context.Context, c *variables.Context, spec map[string]any, cluster cel.ResourceStore) (any, error) {
	sub, err := variables.Substitute(c, spec)
	if err != nil {
		return nil, fmt.Errorf("substitute variables in configMap: %w", err)
	}
	m, _ := sub.(map[string]any)
	name, _ := m["name"].(string)
	ns, _ := m["namespace"].(string)
	if name == "" {
		return nil, fmt.Errorf("configMap has no name")
	}
	if ns == "" {
		ns = "default"
	}
	obj, err := cluster.Get(ctx, "v1", "configmaps", ns, name)
	if err != nil {
		return nil, fmt.Errorf("failed to get configmap %s/%s: %w", ns, name, err)
	}
	return obj, nil
}

// loadAPICall answers an apiCall context entry that GETs an object or a
// collection of the API server by urlPath, from cluster; jmesPath applies
// to the answer. A failed read takes the entry's default when it has one
// (Kyverno: "the context value is set to default if the apiCall returns
// an error"), else it is an error. service calls and other methods are
// refused when the policy is loaded (internal/policysource).
func (e *Engine) loadAPICall(ctx context.Context, c *variables.Context, spec map[string]any, cluster cel.ResourceStore) (any, error) {
	sub, err := variables.Substitute(c, map[string]any{"urlPath": spec["urlPath"], "method": spec["method"], "service": spec["service"]})
	if err != nil {
		return nil, fmt.Errorf("substitute variables in apiCall: %w", err)
	}
	m, _ := sub.(map[string]any)
	path, _ := m["urlPath"].(string)
	if m["service"] != nil || path == "" {
		return nil, fmt.Errorf("apiCall: only urlPath GETs of the API server are supported at admission")
	}
	if method, _ := m["method"].(string); method != "" && method != "GET" {
		return nil, fmt.Errorf("apiCall: method %s is not supported (GET only)", method)
	}
	data, err := getURLPath(ctx, cluster, path)
	if err != nil {
		if def, ok := spec["default"]; ok && def != nil {
			return def, nil
		}
		return nil, fmt.Errorf("failed to GET %s: %w", path, err)
	}
	jp, _ := spec["jmesPath"].(string)
	if jp == "" {
		return data, nil
	}
	q, err := variables.Substitute(c, jp)
	if err != nil {
		return nil, fmt.Errorf("substitute variables in jmesPath %q: %w", jp, err)
	}
	qs, ok := q.(string)
	if !ok {
		return nil, fmt.Errorf("jmesPath %q did not resolve to a string", jp)
	}
	out, err := e.jp.SearchContext(ctx, qs, data)
	if err != nil {
		return nil, fmt.Errorf("failed to apply jmesPath %s: %w", qs, err)
	}
	return out, nil
}

// APIPath is an API server path naming one resource or a collection:
// /api/v1/[namespaces/NS/]RESOURCE[/NAME] or
// /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME].
type APIPath struct {
	// APIVersion is "v1" or "group/version".
	APIVersion string
	// Resource is the plural resource name; Namespace is "" for
	// cluster-scoped resources or a list across namespaces.
	Resource, Namespace string
	// Name is "" for a collection.
	Name string
}

// ParseAPIPath parses an apiCall urlPath. Paths with a query, a
// subresource or outside /api and /apis are refused.
func ParseAPIPath(p string) (APIPath, error) {
	u, err := url.Parse(p)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || u.Host != "" {
		return APIPath{}, fmt.Errorf("urlPath %q: want an API server path without a query", p)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	var out APIPath
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		out.APIVersion, segs = segs[1], segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		out.APIVersion, segs = segs[1]+"/"+segs[2], segs[3:]
	default:
		return APIPath{}, fmt.Errorf("urlPath %q: want a path under /api/v1 or /apis/GROUP/VERSION", p)
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		out.Namespace, segs = segs[1], segs[2:]
	}
	switch len(segs) {
	case 1:
		out.Resource = segs[0]
	case 2:
		out.Resource, out.Name = segs[0], segs[1]
	default:
		return APIPath{}, fmt.Errorf("urlPath %q: want a resource or a collection (no subresources)", p)
	}
	for _, s := range []string{out.APIVersion, out.Resource, out.Namespace, out.Name} {
		if strings.ContainsAny(s, "{}") {
			return APIPath{}, fmt.Errorf("urlPath %q: unresolved variable", p)
		}
	}
	if out.Resource == "" {
		return APIPath{}, fmt.Errorf("urlPath %q: no resource", p)
	}
	return out, nil
}

// getURLPath answers a GET of p as the API server would: the object, or
// a list {"apiVersion", "kind": "List", "metadata", "items"}.
func getURLPath(ctx context.Context, cluster cel.ResourceStore, p string) (any, error) {
	ap, err := ParseAPIPath(p)
	if err != nil {
		return nil, err
	}
	if ap.Name != "" {
		return cluster.Get(ctx, ap.APIVersion, ap.Resource, ap.Namespace, ap.Name)
	}
	objs, err := cluster.List(ctx, ap.APIVersion, ap.Resource, ap.Namespace)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = o
	}
	return map[string]any{"apiVersion": ap.APIVersion, "kind": "List", "metadata": map[string]any{}, "items": items}, nil
}
