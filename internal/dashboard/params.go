package dashboard

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Bounds of query parameters: anything larger is refused.
const (
	maxParamLen    = 512
	maxParamValues = 50
	maxOffset      = 1_000_000
	maxDays        = 366
)

// badParam is a query parameter the dashboard refuses (400).
type badParam struct{ msg string }

func (b badParam) Error() string { return b.msg }

func badf(format string, args ...any) error { return badParam{fmt.Sprintf(format, args...)} }

// params reads a request's query parameters, each bounded.
type params url.Values

func (q params) list(name string) ([]string, error) {
	vals := url.Values(q)[name]
	if len(vals) > maxParamValues {
		return nil, badf("too many %s parameters (at most %d)", name, maxParamValues)
	}
	var out []string
	for _, v := range vals {
		if len(v) > maxParamLen {
			return nil, badf("parameter %s is too long", name)
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

func (q params) one(name string) (string, error) {
	v := url.Values(q).Get(name)
	if len(v) > maxParamLen {
		return "", badf("parameter %s is too long", name)
	}
	return v, nil
}

func (q params) int(name string, def, lo, hi int) (int, error) {
	v := url.Values(q).Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badf("parameter %s must be a number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (q params) bool(name string) (bool, error) {
	switch url.Values(q).Get(name) {
	case "", "0", "false", "off":
		return false, nil
	case "1", "true", "on":
		return true, nil
	}
	return false, badf("parameter %s must be true or false", name)
}

// filter reads cluster, namespace, policy and severity.
func (q params) filter() (store.Filter, error) {
	var f store.Filter
	var err error
	if f.Clusters, err = q.list("cluster"); err != nil {
		return f, err
	}
	ns, err := q.list("namespace")
	if err != nil {
		return f, err
	}
	// "-" names the cluster-scoped resources (namespace "").
	for i, n := range ns {
		if n == "-" {
			ns[i] = ""
		}
	}
	if len(ns) > 0 {
		f.Namespaces = ns
	}
	if f.Policy, err = q.one("policy"); err != nil {
		return f, err
	}
	if f.Severity, err = q.one("severity"); err != nil {
		return f, err
	}
	return f, nil
}

// days reads from and to (YYYY-MM-DD), or days (the last N days up to
// today): the range of a trend, 30 days by default.
func (q params) days(now time.Time) (from, to time.Time, err error) {
	n, err := q.int("days", 30, 1, maxDays)
	if err != nil {
		return from, to, err
	}
	to = now.UTC()
	if v := url.Values(q).Get("to"); v != "" {
		if to, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, badf("parameter to must be a date (YYYY-MM-DD)")
		}
	}
	from = to.AddDate(0, 0, -(n - 1))
	if v := url.Values(q).Get("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, badf("parameter from must be a date (YYYY-MM-DD)")
		}
	}
	if to.Before(from) || to.Sub(from) > maxDays*24*time.Hour {
		return from, to, badf("the range from %s to %s is empty or longer than %d days", from.Format(time.DateOnly), to.Format(time.DateOnly), maxDays)
	}
	return from, to, nil
}

// dimension reads by (posture's grouping), one of the store's.
func (q params) dimension() (store.Dimension, error) {
	switch d := store.Dimension(url.Values(q).Get("by")); d {
	case "":
		return store.ByCluster, nil
	case store.ByCluster, store.ByNamespace, store.ByPolicy, store.ByControl, store.BySeverity, store.ByCategory:
		return d, nil
	}
	return "", badf("parameter by must be cluster, namespace, policy, control, severity or category")
}
