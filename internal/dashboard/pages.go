package dashboard

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/store"
)

// pageData is what every page template gets; a page sets what it shows.
type pageData struct {
	Title, Page string
	Principal   *Principal
	Error, Next string
	// Query is the request's parameters (for the filter forms).
	Query url.Values

	Cluster, Namespace string
	Clusters           []store.Cluster
	ByCluster          []store.PostureRow
	ByNamespace        []store.PostureRow
	ByPolicy           []store.PostureRow
	ByControl          []store.PostureRow
	BySeverity         []store.PostureRow
	Total              store.PostureRow

	Violations        []store.Violation
	Offset            int
	PrevURL, NextURL  string
	History           *store.ResourceHistory
	Chart             *chart
	Days              []store.DayPoint
	Images            []store.ImageRow
	Scans             []store.ScanRow
	Statuses          []string
	Severities        []string
	ViolationsLinkAll string
}

var funcs = template.FuncMap{
	"time": fmtTime,
	"score": func(f float64) string {
		return strconv.FormatFloat(f, 'f', 1, 64) + "%"
	},
	"nsURL": func(cluster, ns string) string {
		return link("/namespace", "cluster", cluster, "namespace", nsParam(ns))
	},
	"resURL": func(r store.ResourceRef) string {
		return link("/resource", "cluster", r.Cluster, "uid", r.UID)
	},
	"violationsURL": func(kv ...string) string { return link("/violations", kv...) },
	"nsName": func(ns string) string {
		if ns == "" {
			return "(cluster-scoped)"
		}
		return ns
	},
	"statusClass": func(s engine.Status) string {
		switch s {
		case engine.StatusFail:
			return "fail"
		case engine.StatusWarn:
			return "warn"
		case engine.StatusError:
			return "error"
		case engine.StatusPass:
			return "pass"
		}
		return "skip"
	},
	"violating": func(r store.PostureRow) int64 { return r.Fail + r.Warn },
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, p *Principal) {
	ctx, q := r.Context(), params(r.URL.Query())
	d := pageData{Title: "Overview", Query: r.URL.Query()}
	var err error
	for _, dim := range []struct {
		by  store.Dimension
		dst *[]store.PostureRow
	}{{store.ByCluster, &d.ByCluster}, {store.ByNamespace, &d.ByNamespace}, {store.ByPolicy, &d.ByPolicy},
		{store.ByControl, &d.ByControl}, {store.BySeverity, &d.BySeverity}} {
		if *dim.dst, err = h.postureQuery(ctx, q, p, dim.by); err != nil {
			h.fail(w, false, p, err)
			return
		}
	}
	for _, row := range d.ByCluster {
		d.Total.Counts.Pass += row.Pass
		d.Total.Counts.Fail += row.Fail
		d.Total.Counts.Warn += row.Warn
		d.Total.Counts.Error += row.Error
		d.Total.Counts.Skip += row.Skip
	}
	d.Total.Score = d.Total.Counts.Score()
	days, err := h.trends(ctx, q, p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	d.Chart = newChart(days)
	h.render(w, http.StatusOK, "overview", p, d)
}

func (h *Handler) namespacePage(w http.ResponseWriter, r *http.Request, p *Principal) {
	ctx, q := r.Context(), params(r.URL.Query())
	cluster, err := q.one("cluster")
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	ns, err := q.one("namespace")
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	if cluster == "" || ns == "" {
		h.fail(w, false, p, badf("give cluster and namespace"))
		return
	}
	d := pageData{Title: "Namespace " + ns, Query: r.URL.Query(), Cluster: cluster, Namespace: ns}
	if ns == "-" {
		d.Namespace, d.Title = "", "Cluster-scoped resources"
	}
	if d.ByControl, err = h.postureQuery(ctx, q, p, store.ByControl); err != nil {
		h.fail(w, false, p, err)
		return
	}
	vq, err := violationQuery(q, p, 50)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	if d.Violations, err = h.st.Violations(ctx, vq); err != nil {
		h.fail(w, false, p, err)
		return
	}
	days, err := h.trends(ctx, q, p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	d.Chart = newChart(days)
	d.ViolationsLinkAll = link("/violations", "cluster", cluster, "namespace", ns)
	h.render(w, http.StatusOK, "namespace", p, d)
}

func (h *Handler) violationsPage(w http.ResponseWriter, r *http.Request, p *Principal) {
	ctx, q := r.Context(), params(r.URL.Query())
	vq, err := violationQuery(q, p, 50)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	d := pageData{Title: "Violations", Query: r.URL.Query(), Offset: vq.Offset, Severities: []string{"critical", "high", "medium", "low", "info"}}
	if d.Violations, err = h.st.Violations(ctx, vq); err != nil {
		h.fail(w, false, p, err)
		return
	}
	d.PrevURL, d.NextURL = pager(q, "/violations", vq.Offset, vq.Limit, len(d.Violations))
	h.render(w, http.StatusOK, "violations", p, d)
}

// pager gives the links to the previous and next pages of a list at path
// (empty when there is none): a page of n items at offset, limit a page.
// A full page may be the last: the next one is then empty.
func pager(q params, path string, offset, limit, n int) (prev, next string) {
	if offset > 0 {
		prev = withParam(q, path, "offset", strconv.Itoa(max(offset-limit, 0)))
	}
	if n == limit {
		next = withParam(q, path, "offset", strconv.Itoa(offset+limit))
	}
	return prev, next
}

func (h *Handler) resourcePage(w http.ResponseWriter, r *http.Request, p *Principal) {
	hist, err := h.history(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	if hist == nil {
		h.render(w, http.StatusNotFound, "error", p, pageData{Title: "Not found", Error: "No such resource, or you may not see it."})
		return
	}
	h.render(w, http.StatusOK, "resource", p, pageData{Title: hist.Resource.Kind + " " + hist.Resource.Name, History: hist})
}

func (h *Handler) trendsPage(w http.ResponseWriter, r *http.Request, p *Principal) {
	days, err := h.trends(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	h.render(w, http.StatusOK, "trends", p, pageData{Title: "Trends", Query: r.URL.Query(), Days: days, Chart: newChart(days)})
}

func (h *Handler) imagesPage(w http.ResponseWriter, r *http.Request, p *Principal) {
	ctx, q := r.Context(), params(r.URL.Query())
	iq, err := imageQuery(q, p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	d := pageData{Title: "Images", Query: r.URL.Query(), Offset: iq.Offset,
		Statuses: []string{store.ImageFailed, store.ImageError, store.ImageUnverified, store.ImageVerified}}
	if d.Images, err = h.st.Images(ctx, iq); err != nil {
		h.fail(w, false, p, err)
		return
	}
	d.PrevURL, d.NextURL = pager(q, "/images", iq.Offset, iq.Limit, len(d.Images))
	h.render(w, http.StatusOK, "images", p, d)
}

func (h *Handler) scansPage(w http.ResponseWriter, r *http.Request, p *Principal) {
	scans, err := h.scans(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, false, p, err)
		return
	}
	h.render(w, http.StatusOK, "scans", p, pageData{Title: "Scans", Query: r.URL.Query(), Scans: scans})
}
