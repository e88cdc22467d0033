package dashboard

import (
	"context"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// The queries the pages and the API share. Each reads its parameters,
// restricts them to what the Principal may see and asks the store.

func (h *Handler) postureQuery(ctx context.Context, q params, p *Principal, by store.Dimension) ([]store.PostureRow, error) {
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	return h.st.Posture(ctx, store.PostureQuery{Filter: p.filter(f), By: by})
}

// violationQuery reads the violation list's parameters; limit is the
// default page size.
func violationQuery(q params, p *Principal, limit int) (store.ViolationQuery, error) {
	var vq store.ViolationQuery
	f, err := q.filter()
	if err != nil {
		return vq, err
	}
	vq.Filter = p.filter(f)
	if vq.Rule, err = q.one("rule"); err != nil {
		return vq, err
	}
	if vq.Kind, err = q.one("kind"); err != nil {
		return vq, err
	}
	if vq.Errors, err = q.bool("errors"); err != nil {
		return vq, err
	}
	if vq.Limit, err = q.int("limit", limit, 1, 500); err != nil {
		return vq, err
	}
	if vq.Offset, err = q.int("offset", 0, 0, maxOffset); err != nil {
		return vq, err
	}
	return vq, nil
}

// history returns the resource the parameters name (cluster and uid, or
// cluster, namespace, kind and name); nil when the caller may not see it
// or it does not exist.
func (h *Handler) history(ctx context.Context, q params, p *Principal) (*store.ResourceHistory, error) {
	var hq store.HistoryQuery
	var err error
	for name, dst := range map[string]*string{"cluster": &hq.Cluster, "uid": &hq.UID, "namespace": &hq.Namespace, "kind": &hq.Kind, "name": &hq.Name} {
		if *dst, err = q.one(name); err != nil {
			return nil, err
		}
	}
	if hq.Namespace == "-" {
		hq.Namespace = ""
	}
	if hq.Cluster == "" || (hq.UID == "" && (hq.Kind == "" || hq.Name == "")) {
		return nil, badf("give cluster and uid, or cluster, namespace, kind and name")
	}
	if !p.All {
		if _, ok := p.clusters([]string{hq.Cluster}); !ok {
			return nil, nil
		}
		hq.Namespaces = append([]string{}, p.Namespaces...)
	}
	if hq.Limit, err = q.int("limit", 200, 1, 1000); err != nil {
		return nil, err
	}
	return h.st.History(ctx, hq)
}

func (h *Handler) trends(ctx context.Context, q params, p *Principal) ([]store.DayPoint, error) {
	f, err := q.filter()
	if err != nil {
		return nil, err
	}
	from, to, err := q.days(h.now())
	if err != nil {
		return nil, err
	}
	return h.st.Trends(ctx, store.TrendQuery{Filter: p.filter(f), From: from, To: to})
}

// imageQuery reads the image list's parameters.
func imageQuery(q params, p *Principal) (store.ImageQuery, error) {
	f, err := q.filter()
	if err != nil {
		return store.ImageQuery{}, err
	}
	iq := store.ImageQuery{Filter: p.filter(f)}
	if iq.Status, err = q.one("status"); err != nil {
		return store.ImageQuery{}, err
	}
	if iq.Limit, err = q.int("limit", 500, 1, store.MaxLimit); err != nil {
		return store.ImageQuery{}, err
	}
	if iq.Offset, err = q.int("offset", 0, 0, maxOffset); err != nil {
		return store.ImageQuery{}, err
	}
	return iq, nil
}

func (h *Handler) scans(ctx context.Context, q params, p *Principal) ([]store.ScanRow, error) {
	req, err := q.list("cluster")
	if err != nil {
		return nil, err
	}
	limit, err := q.int("limit", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	clusters, ok := p.clusters(req)
	if !ok {
		return nil, nil
	}
	return h.st.Scans(ctx, store.ScanQuery{Clusters: clusters, Limit: limit})
}

func (h *Handler) clusters(ctx context.Context, p *Principal) ([]store.Cluster, error) {
	all, err := h.st.Clusters(ctx)
	if err != nil || p.All {
		return all, err
	}
	var out []store.Cluster
	for _, c := range all {
		if _, ok := p.clusters([]string{c.Name}); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// link returns path with the query parameters kv (name, value, ...),
// empty values left out.
func link(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Add(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// withParam returns the request's query with name set to value.
func withParam(q params, path, name, value string) string {
	v := url.Values{}
	for k, vals := range q {
		v[k] = append([]string{}, vals...)
	}
	v.Set(name, value)
	return path + "?" + v.Encode()
}

// nsParam is how a namespace goes in a link ("-" for cluster-scoped).
func nsParam(ns string) string {
	if ns == "" {
		return "-"
	}
	return ns
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
