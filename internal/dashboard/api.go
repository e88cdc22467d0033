package dashboard

import (
	"encoding/json"
	"net/http"
)

// writeJSON writes v; encoding/json escapes <, > and & in strings, so a
// stored payload cannot become markup even where JSON is sniffed as HTML.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// list answers a JSON list: [] rather than null when empty.
type list[T any] struct {
	Items []T `json:"items"`
}

func items[T any](v []T) list[T] {
	if v == nil {
		v = []T{}
	}
	return list[T]{Items: v}
}

func (h *Handler) apiWhoami(w http.ResponseWriter, _ *http.Request, p *Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "all": p.All, "clusters": p.Clusters, "namespaces": p.Namespaces})
}

func (h *Handler) apiClusters(w http.ResponseWriter, r *http.Request, p *Principal) {
	c, err := h.clusters(r.Context(), p)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(c))
}

func (h *Handler) apiPosture(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := params(r.URL.Query())
	by, err := q.dimension()
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	rows, err := h.postureQuery(r.Context(), q, p, by)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(rows))
}

func (h *Handler) apiViolations(w http.ResponseWriter, r *http.Request, p *Principal) {
	vq, err := violationQuery(params(r.URL.Query()), p, 100)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	vs, err := h.st.Violations(r.Context(), vq)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(vs))
}

func (h *Handler) apiResource(w http.ResponseWriter, r *http.Request, p *Principal) {
	hist, err := h.history(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	if hist == nil {
		writeJSONError(w, http.StatusNotFound, "no such resource, or you may not see it")
		return
	}
	writeJSON(w, http.StatusOK, hist)
}

func (h *Handler) apiTrends(w http.ResponseWriter, r *http.Request, p *Principal) {
	days, err := h.trends(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(days))
}

func (h *Handler) apiImages(w http.ResponseWriter, r *http.Request, p *Principal) {
	iq, err := imageQuery(params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	imgs, err := h.st.Images(r.Context(), iq)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(imgs))
}

func (h *Handler) apiScans(w http.ResponseWriter, r *http.Request, p *Principal) {
	scans, err := h.scans(r.Context(), params(r.URL.Query()), p)
	if err != nil {
		h.fail(w, true, p, err)
		return
	}
	writeJSON(w, http.StatusOK, items(scans))
}
