package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/events"
)

// idCache maps natural keys to row ids; it is reset after a failed write
// (rolled-back ids) and after a prune (deleted rows).
type idCache struct {
	clusters   map[string]int64
	namespaces map[nsKey]int64
	policies   map[policyKey]policyRow
	rules      map[ruleKey]int64
	resources  map[resKey]resRow
}

type nsKey struct {
	cluster int64
	name    string
}
type policyKey struct {
	cluster    int64
	kind, name string
}
type policyRow struct {
	id                 int64
	severity, category string
}
type ruleKey struct {
	policy int64
	name   string
}
type resKey struct {
	cluster int64
	uid     string
}
type resRow struct {
	id, namespace int64
	images        string // fingerprint of the recorded images
	results       string // resultsHash of the recorded results
}

func newIDCache() *idCache {
	return &idCache{clusters: map[string]int64{}, namespaces: map[nsKey]int64{}, policies: map[policyKey]policyRow{},
		rules: map[ruleKey]int64{}, resources: map[resKey]resRow{}}
}

// batchRows is the most rows one multi-row statement carries (SQLite
// allows 32766 parameters, PostgreSQL 65535).
const batchRows = 400

// txw writes one batch inside one transaction.
type txw struct {
	*db
	tx    *sql.Tx
	ids   *idCache
	token int64

	results     [][]any
	observed    []int64 // resources whose results were rewritten
	transitions [][]any
	verdicts    map[verdictKey][]any
	touched     map[nsID]time.Time  // namespaces whose daily counts change
	imagesOf    map[int64]bool      // namespaces whose image usage may change
	dayCounts   map[dayKey][2]int64 // violations opened and resolved
}

type dayKey struct{ cluster, ns, day int64 }

type nsID struct{ cluster, ns int64 }

type verdictKey struct {
	cluster           int64
	ref, digest, rule string
	ruleID            int64
}

// Write applies b in one transaction.
func (s *db) Write(ctx context.Context, b *Batch) error {
	if b == nil || len(b.Ops) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// A token unique to this write marks the result rows it writes, so
	// the rows of a resource it did not rewrite can be deleted.
	tok := time.Now().UnixNano()
	if tok <= s.token {
		tok = s.token + 1
	}
	s.token = tok
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	w := &txw{db: s, tx: tx, ids: s.ids, token: tok, verdicts: map[verdictKey][]any{}, touched: map[nsID]time.Time{},
		imagesOf: map[int64]bool{}, dayCounts: map[dayKey][2]int64{}}
	if err := w.apply(ctx, b); err != nil {
		tx.Rollback() //nolint:errcheck // the write error is what matters
		s.ids = newIDCache()
		return err
	}
	if err := tx.Commit(); err != nil {
		s.ids = newIDCache()
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// superseded returns, for each op index, whether a later op of the batch
// replaces its observation (a later observation or deletion of the same
// resource): only the last state of a resource is written.
func superseded(ops []Op) []bool {
	type k struct{ cluster, uid string }
	out := make([]bool, len(ops))
	seen := map[k]bool{}
	for i := len(ops) - 1; i >= 0; i-- {
		var key k
		switch {
		case ops[i].Observe != nil:
			key = k{ops[i].Observe.Cluster, ops[i].Observe.UID}
		case ops[i].Delete != nil:
			key = k{ops[i].Delete.Cluster, ops[i].Delete.UID}
		default:
			continue
		}
		if seen[key] {
			out[i] = ops[i].Observe != nil
			continue
		}
		seen[key] = true
	}
	return out
}

func (w *txw) apply(ctx context.Context, b *Batch) error {
	skip := superseded(b.Ops)
	for i, op := range b.Ops {
		var err error
		switch {
		case skip[i]:
		case op.Observe != nil:
			err = w.observe(ctx, op.Observe)
		case op.Delete != nil:
			err = w.delete(ctx, op.Delete)
		case op.Transition != nil:
			err = w.transition(ctx, op.Transition)
		case op.Policies != nil:
			err = w.policies(ctx, op.Policies)
		case op.Scan != nil:
			err = w.scan(ctx, op.Scan)
		}
		if err != nil {
			return err
		}
		if len(w.results) >= batchRows {
			if err := w.flushResults(ctx); err != nil {
				return err
			}
		}
		if len(w.transitions) >= batchRows {
			if err := w.flushTransitions(ctx); err != nil {
				return err
			}
		}
	}
	if err := w.flushResults(ctx); err != nil {
		return err
	}
	if err := w.flushStale(ctx); err != nil {
		return err
	}
	if err := w.flushTransitions(ctx); err != nil {
		return err
	}
	if err := w.flushDayCounts(ctx); err != nil {
		return err
	}
	if err := w.flushVerdicts(ctx); err != nil {
		return err
	}
	if err := w.flushImageUsage(ctx); err != nil {
		return err
	}
	return w.flushDaily(ctx)
}

func (w *txw) exec(ctx context.Context, what, stmt string, args ...any) error {
	if _, err := w.tx.ExecContext(ctx, stmt, args...); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (w *txw) cluster(ctx context.Context, name string, at time.Time) (int64, error) {
	return upsertID(ctx, w, w.ids.clusters, name, "cluster", `INSERT INTO clusters (name, first_seen, last_seen) VALUES ($1, $2, $2)
ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen RETURNING id`, name, ms(at))
}

func (w *txw) namespace(ctx context.Context, cluster int64, name string) (int64, error) {
	return upsertID(ctx, w, w.ids.namespaces, nsKey{cluster, name}, "namespace", `INSERT INTO namespaces (cluster_id, name) VALUES ($1, $2)
ON CONFLICT (cluster_id, name) DO UPDATE SET name = excluded.name RETURNING id`, cluster, name)
}

// upsertID returns the id cached under k, or runs upsert (a statement
// returning the row's id) and caches its id.
func upsertID[K comparable](ctx context.Context, w *txw, cache map[K]int64, k K, what, upsert string, args ...any) (int64, error) {
	if id, ok := cache[k]; ok {
		return id, nil
	}
	var id int64
	if err := w.tx.QueryRowContext(ctx, upsert, args...).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: record %s: %w", what, err)
	}
	cache[k] = id
	return id, nil
}

// policy returns the policy's row, creating it from a result's severity
// and category when no snapshot recorded it.
func (w *txw) policy(ctx context.Context, cluster int64, kind, name, severity, category string, at time.Time) (policyRow, error) {
	k := policyKey{cluster, kind, name}
	if row, ok := w.ids.policies[k]; ok {
		return row, nil
	}
	row := policyRow{}
	err := w.tx.QueryRowContext(ctx, `INSERT INTO policies (cluster_id, kind, name, severity, category, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (cluster_id, kind, name) DO UPDATE SET last_seen = excluded.last_seen RETURNING id, severity, category`,
		cluster, kind, name, severity, category, ms(at)).Scan(&row.id, &row.severity, &row.category)
	if err != nil {
		return row, fmt.Errorf("store: record policy: %w", err)
	}
	w.ids.policies[k] = row
	return row, nil
}

func (w *txw) rule(ctx context.Context, policy int64, name string) (int64, error) {
	return upsertID(ctx, w, w.ids.rules, ruleKey{policy, name}, "rule", `INSERT INTO rules (policy_id, name) VALUES ($1, $2)
ON CONFLICT (policy_id, name) DO UPDATE SET name = excluded.name RETURNING id`, policy, name)
}

// resource upserts a resource; with live it is (again) not deleted and
// last seen at.
func (w *txw) resource(ctx context.Context, cluster int64, uid string, r engine.Resource, at time.Time, live bool) (resRow, error) {
	ns, err := w.namespace(ctx, cluster, r.Namespace)
	if err != nil {
		return resRow{}, err
	}
	k := resKey{cluster, uid}
	if row, ok := w.ids.resources[k]; ok && !live {
		return row, nil
	}
	var id int64
	stmt := `INSERT INTO resources (cluster_id, namespace_id, uid, api_version, kind, name, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (cluster_id, uid) DO UPDATE SET namespace_id = excluded.namespace_id, api_version = excluded.api_version,
  kind = excluded.kind, name = excluded.name, last_seen = excluded.last_seen, deleted_at = NULL RETURNING id, results_hash`
	if !live {
		stmt = `INSERT INTO resources (cluster_id, namespace_id, uid, api_version, kind, name, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (cluster_id, uid) DO UPDATE SET uid = excluded.uid RETURNING id, namespace_id`
	}
	var hash string
	dest := []any{&id, &hash}
	if !live {
		dest = []any{&id, &ns}
	}
	if err := w.tx.QueryRowContext(ctx, stmt, cluster, ns, uid, r.APIVersion, r.Kind, r.Name, ms(at)).Scan(dest...); err != nil {
		return resRow{}, fmt.Errorf("store: record resource: %w", err)
	}
	row := w.ids.resources[k]
	row.id, row.namespace = id, ns
	if live {
		row.results = hash
	}
	w.ids.resources[k] = row
	return row, nil
}

func imagesPrint(imgs []events.Image) string {
	var sb strings.Builder
	for _, i := range imgs {
		sb.WriteString(i.Ref)
		sb.WriteByte(0)
		sb.WriteString(i.Digest)
		sb.WriteByte(0)
	}
	return sb.String()
}

func (w *txw) observe(ctx context.Context, o *Observation) error {
	cl, err := w.cluster(ctx, o.Cluster, o.At)
	if err != nil {
		return err
	}
	row, err := w.resource(ctx, cl, o.UID, o.Resource, o.At, true)
	if err != nil {
		return err
	}
	// Its images, changed or not, count again if it was deleted before.
	w.imagesOf[row.namespace] = true
	if p := imagesPrint(o.Images); p != row.images {
		if err := w.exec(ctx, "record images", `DELETE FROM resource_images WHERE resource_id = $1`, row.id); err != nil {
			return err
		}
		for i, img := range o.Images {
			if err := w.exec(ctx, "record images", `INSERT INTO resource_images (resource_id, position, ref, digest) VALUES ($1, $2, $3, $4)`,
				row.id, i, img.Ref, img.Digest); err != nil {
				return err
			}
		}
		row.images = p
		w.ids.resources[resKey{cl, o.UID}] = row
	}
	if h := resultsHash(o.Results); h == row.results {
		return nil // the same results: nothing to write
	} else {
		if err := w.exec(ctx, "record results digest", `UPDATE resources SET results_hash = $1 WHERE id = $2`, h, row.id); err != nil {
			return err
		}
		row.results = h
		w.ids.resources[resKey{cl, o.UID}] = row
	}
	type slot struct {
		rule  int64
		image string
	}
	ords := map[slot]int{}
	for i := range o.Results {
		r := &o.Results[i]
		p, err := w.policy(ctx, cl, r.PolicyKind, r.Policy, r.Severity, r.Category, o.At)
		if err != nil {
			return err
		}
		rule, err := w.rule(ctx, p.id, r.Rule)
		if err != nil {
			return err
		}
		sl := slot{rule, r.Image}
		ord := ords[sl]
		ords[sl] = ord + 1
		w.results = append(w.results, []any{row.id, rule, r.Image, ord, cl, row.namespace, p.id, string(r.Status), failingOf(r.Status),
			r.Severity, severityRank(r.Severity), r.Category, r.Message, r.Path, r.Digest, r.Enforce, r.Control, r.Remediation, ms(o.At), w.token})
		if r.Image != "" {
			w.verdicts[verdictKey{cl, r.Image, r.Digest, "", rule}] = []any{cl, r.Image, r.Digest, rule, string(r.Status), r.Message, ms(o.At)}
		}
	}
	w.observed = append(w.observed, row.id)
	w.touch(cl, row.namespace, o.At)
	return nil
}

func (w *txw) touch(cluster, ns int64, at time.Time) {
	k := nsID{cluster, ns}
	if t, ok := w.touched[k]; !ok || at.After(t) {
		w.touched[k] = at
	}
}

func (w *txw) delete(ctx context.Context, d *Deletion) error {
	cl, err := w.cluster(ctx, d.Cluster, d.At)
	if err != nil {
		return err
	}
	row, err := w.resource(ctx, cl, d.UID, d.Resource, d.At, false)
	if err != nil {
		return err
	}
	if err := w.exec(ctx, "delete results", `DELETE FROM results WHERE resource_id = $1`, row.id); err != nil {
		return err
	}
	if err := w.exec(ctx, "mark deleted", `UPDATE resources SET deleted_at = $1, last_seen = $1, results_hash = '' WHERE id = $2`, ms(d.At), row.id); err != nil {
		return err
	}
	w.imagesOf[row.namespace] = true
	if row, ok := w.ids.resources[resKey{cl, d.UID}]; ok {
		row.results = ""
		w.ids.resources[resKey{cl, d.UID}] = row
	}
	w.touch(cl, row.namespace, d.At)
	return nil
}

// Transition types as stored.
const (
	TypeViolation  = "violation"
	TypeResolution = "resolution"
)

func (w *txw) transition(ctx context.Context, t *Transition) error {
	cl, err := w.cluster(ctx, t.Cluster, t.Time)
	if err != nil {
		return err
	}
	row, err := w.resource(ctx, cl, t.UID, t.Result.Resource, t.Time, false)
	if err != nil {
		return err
	}
	r := &t.Result
	p, err := w.policy(ctx, cl, r.PolicyKind, r.Policy, r.Severity, r.Category, t.Time)
	if err != nil {
		return err
	}
	rule, err := w.rule(ctx, p.id, r.Rule)
	if err != nil {
		return err
	}
	typ := TypeResolution
	if t.Type == events.TypeViolation {
		typ = TypeViolation
	}
	w.transitions = append(w.transitions, []any{cl, row.namespace, row.id, rule, typ, string(r.Status), r.Severity, r.Message,
		r.Path, r.Image, r.Control, r.Remediation, t.Reason, ms(t.Time), dayOf(t.Time)})
	k := dayKey{cl, row.namespace, dayOf(t.Time)}
	c := w.dayCounts[k]
	if typ == TypeViolation {
		c[0]++
	} else {
		c[1]++
	}
	w.dayCounts[k] = c
	return nil
}

func (w *txw) policies(ctx context.Context, p *PolicySnapshot) error {
	cl, err := w.cluster(ctx, p.Cluster, p.At)
	if err != nil {
		return err
	}
	for _, pol := range p.Policies {
		var id int64
		err := w.tx.QueryRowContext(ctx, `INSERT INTO policies (cluster_id, kind, name, title, severity, category, generation, hash, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
ON CONFLICT (cluster_id, kind, name) DO UPDATE SET title = excluded.title, severity = excluded.severity, category = excluded.category,
  generation = excluded.generation, hash = excluded.hash, last_seen = excluded.last_seen RETURNING id`,
			cl, pol.Kind, pol.Name, pol.Title, pol.Severity, pol.Category, pol.Generation, pol.Hash, ms(p.At)).Scan(&id)
		if err != nil {
			return fmt.Errorf("store: record policy %s %s: %w", pol.Kind, pol.Name, err)
		}
		w.ids.policies[policyKey{cl, pol.Kind, pol.Name}] = policyRow{id: id, severity: pol.Severity, category: pol.Category}
		for _, r := range pol.Rules {
			if _, err := w.rule(ctx, id, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *txw) scan(ctx context.Context, sc *Scan) error {
	cl, err := w.cluster(ctx, sc.Cluster, sc.Finished)
	if err != nil {
		return err
	}
	c := sc.Counts
	return w.exec(ctx, "record scan", `INSERT INTO scans (cluster_id, source, started, finished, resources, pass, fail, warn, error, skip)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, cl, sc.Source, ms(sc.Started), ms(sc.Finished), sc.Resources,
		c.Pass, c.Fail, c.Warn, c.Error, c.Skip)
}

// values writes "($a, $b, ...), (...)" for rows.
func values(q *query, rows [][]any) {
	for i, row := range rows {
		if i > 0 {
			q.w(", ")
		}
		q.w("(")
		for j, v := range row {
			if j > 0 {
				q.w(", ")
			}
			q.w(q.arg(v))
		}
		q.w(")")
	}
}

func (w *txw) flushResults(ctx context.Context) error {
	if len(w.results) == 0 {
		return nil
	}
	q := w.newQuery()
	q.w(`INSERT INTO results (resource_id, rule_id, image, ord, cluster_id, namespace_id, policy_id, status, failing, severity, severity_rank,
  category, message, path, digest, enforce, control, remediation, since, written) VALUES `)
	values(q, w.results)
	q.w(`
ON CONFLICT (resource_id, rule_id, image, ord) DO UPDATE SET cluster_id = excluded.cluster_id, namespace_id = excluded.namespace_id,
  policy_id = excluded.policy_id, status = excluded.status, failing = excluded.failing, severity = excluded.severity,
  severity_rank = excluded.severity_rank, category = excluded.category, control = excluded.control, remediation = excluded.remediation,
  message = excluded.message, path = excluded.path, digest = excluded.digest, enforce = excluded.enforce,
  since = CASE WHEN results.status = excluded.status THEN results.since ELSE excluded.since END, written = excluded.written`)
	w.results = w.results[:0]
	return w.exec(ctx, "record results", q.String(), q.args...)
}

// flushStale deletes the result rows of the observed resources that this
// write did not rewrite (rules that no longer apply).
func (w *txw) flushStale(ctx context.Context) error {
	for len(w.observed) > 0 {
		n := min(len(w.observed), batchRows)
		q := w.newQuery()
		q.w(`DELETE FROM results WHERE written <> `, q.arg(w.token), ` AND resource_id IN (`)
		for i, id := range w.observed[:n] {
			if i > 0 {
				q.w(", ")
			}
			q.w(q.arg(id))
		}
		q.w(")")
		w.observed = w.observed[n:]
		if err := w.exec(ctx, "delete stale results", q.String(), q.args...); err != nil {
			return err
		}
	}
	return nil
}

func (w *txw) flushTransitions(ctx context.Context) error {
	if len(w.transitions) == 0 {
		return nil
	}
	q := w.newQuery()
	q.w(`INSERT INTO transitions (cluster_id, namespace_id, resource_id, rule_id, type, status, severity, message, path, image,
  control, remediation, reason, at, day) VALUES `)
	values(q, w.transitions)
	w.transitions = w.transitions[:0]
	return w.exec(ctx, "record transitions", q.String(), q.args...)
}

// flushDayCounts adds the batch's transitions to the per-day counts of
// opened and resolved violations (one row per namespace and day).
func (w *txw) flushDayCounts(ctx context.Context) error {
	rows := make([][]any, 0, len(w.dayCounts))
	for k, c := range w.dayCounts {
		rows = append(rows, []any{k.cluster, k.ns, k.day, c[0], c[1]})
	}
	clear(w.dayCounts)
	for len(rows) > 0 {
		n := min(len(rows), batchRows)
		q := w.newQuery()
		q.w(`INSERT INTO daily_transitions (cluster_id, namespace_id, day, opened, resolved) VALUES `)
		values(q, rows[:n])
		q.w(` ON CONFLICT (day, cluster_id, namespace_id) DO UPDATE SET opened = daily_transitions.opened + excluded.opened,
  resolved = daily_transitions.resolved + excluded.resolved`)
		rows = rows[n:]
		if err := w.exec(ctx, "count transitions per day", q.String(), q.args...); err != nil {
			return err
		}
	}
	return nil
}

// failingOf is the results.failing column: 1 for a violation (fail or
// warn), 2 for an error, 0 otherwise.
func failingOf(s engine.Status) int {
	switch s {
	case engine.StatusFail, engine.StatusWarn:
		return 1
	case engine.StatusError:
		return 2
	}
	return 0
}

func (w *txw) flushVerdicts(ctx context.Context) error {
	rows := make([][]any, 0, len(w.verdicts))
	for _, r := range w.verdicts {
		rows = append(rows, r)
	}
	for len(rows) > 0 {
		n := min(len(rows), batchRows)
		q := w.newQuery()
		q.w(`INSERT INTO image_verdicts (cluster_id, ref, digest, rule_id, status, message, at) VALUES `)
		values(q, rows[:n])
		q.w(` ON CONFLICT (cluster_id, ref, digest, rule_id) DO UPDATE SET status = excluded.status, message = excluded.message, at = excluded.at`)
		rows = rows[n:]
		if err := w.exec(ctx, "record image verdicts", q.String(), q.args...); err != nil {
			return err
		}
	}
	return nil
}

// flushImageUsage recounts the images of the current resources of every
// namespace the batch observed or deleted resources in (image_usage, what
// Images reads).
func (w *txw) flushImageUsage(ctx context.Context) error {
	for ns := range w.imagesOf {
		if err := w.exec(ctx, "recount images", `DELETE FROM image_usage WHERE namespace_id = $1`, ns); err != nil {
			return err
		}
		if err := w.exec(ctx, "recount images", `INSERT INTO image_usage (namespace_id, ref, digest, cluster_id, resources)
SELECT r.namespace_id, i.ref, i.digest, MIN(r.cluster_id), COUNT(DISTINCT i.resource_id)
FROM resources r JOIN resource_images i ON i.resource_id = r.id
WHERE r.namespace_id = $1 AND r.deleted_at IS NULL GROUP BY r.namespace_id, i.ref, i.digest`, ns); err != nil {
			return err
		}
	}
	return nil
}

// flushDaily recomputes the posture counts of every namespace the batch
// touched, and from them the namespace's counts of the day.
func (w *txw) flushDaily(ctx context.Context) error {
	for k, at := range w.touched {
		if err := w.exec(ctx, "recount posture", `DELETE FROM posture WHERE cluster_id = $1 AND namespace_id = $2`, k.cluster, k.ns); err != nil {
			return err
		}
		if err := w.exec(ctx, "recount posture", `INSERT INTO posture (cluster_id, namespace_id, policy_id, rule_id, severity, category, status, n)
SELECT cluster_id, namespace_id, policy_id, rule_id, severity, category, status, COUNT(*) FROM results
WHERE cluster_id = $1 AND namespace_id = $2 GROUP BY cluster_id, namespace_id, policy_id, rule_id, severity, category, status`,
			k.cluster, k.ns); err != nil {
			return err
		}
		rows, err := w.tx.QueryContext(ctx, `SELECT status, SUM(n) FROM posture WHERE cluster_id = $1 AND namespace_id = $2 GROUP BY status`, k.cluster, k.ns)
		if err != nil {
			return fmt.Errorf("store: count results: %w", err)
		}
		var c Counts
		for rows.Next() {
			var s string
			var n int64
			if err := rows.Scan(&s, &n); err != nil {
				rows.Close()
				return fmt.Errorf("store: count results: %w", err)
			}
			c.Add(engine.Status(s), n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: count results: %w", err)
		}
		if err := w.exec(ctx, "record daily counts", `INSERT INTO daily (cluster_id, namespace_id, day, pass, fail, warn, error, skip)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (day, cluster_id, namespace_id) DO UPDATE SET pass = excluded.pass, fail = excluded.fail, warn = excluded.warn,
  error = excluded.error, skip = excluded.skip`, k.cluster, k.ns, dayOf(at), c.Pass, c.Fail, c.Warn, c.Error, c.Skip); err != nil {
			return err
		}
	}
	return nil
}

// resultsHash is a digest of what the store keeps of results.
func resultsHash(results []engine.Result) string {
	h := sha256.New()
	for i := range results {
		r := &results[i]
		for _, f := range []string{r.PolicyKind, r.Policy, r.Rule, string(r.Status), r.Severity, r.Category, r.Message, r.Path,
			r.Image, r.Digest, strconv.FormatBool(r.Enforce), r.Control, r.Remediation} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// severityRank orders severities, most severe first.
func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "high":
		return 1
	case "medium":
		return 2
	case "low":
		return 3
	case "info":
		return 4
	}
	return 5
}

// Failing returns the current failing results of a cluster by resource
// UID.
func (s *db) Failing(ctx context.Context, cluster string) (map[string][]engine.Result, error) {
	rows, err := s.sql.QueryContext(ctx, `SELECT r.uid, r.api_version, r.kind, n.name, r.name, p.kind, p.name, ru.name,
  res.status, res.severity, res.category, res.message, res.path, res.image, res.digest, res.enforce, res.control, res.remediation
FROM results res
JOIN resources r ON r.id = res.resource_id
JOIN namespaces n ON n.id = res.namespace_id
JOIN rules ru ON ru.id = res.rule_id
JOIN policies p ON p.id = res.policy_id
WHERE res.cluster_id = (SELECT id FROM clusters WHERE name = $1) AND res.status IN ('fail', 'warn')
ORDER BY r.uid, res.rule_id, res.image, res.ord`, cluster)
	if err != nil {
		return nil, fmt.Errorf("store: read failing results: %w", err)
	}
	defer rows.Close()
	out := map[string][]engine.Result{}
	for rows.Next() {
		var uid, status string
		var r engine.Result
		if err := rows.Scan(&uid, &r.Resource.APIVersion, &r.Resource.Kind, &r.Resource.Namespace, &r.Resource.Name,
			&r.PolicyKind, &r.Policy, &r.Rule, &status, &r.Severity, &r.Category, &r.Message, &r.Path, &r.Image, &r.Digest, &r.Enforce,
			&r.Control, &r.Remediation); err != nil {
			return nil, fmt.Errorf("store: read failing results: %w", err)
		}
		r.Status = engine.Status(status)
		out[uid] = append(out[uid], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read failing results: %w", err)
	}
	return out, nil
}

// Live returns the resources of a cluster that are not deleted.
func (s *db) Live(ctx context.Context, cluster string) (map[string]engine.Resource, error) {
	rows, err := s.sql.QueryContext(ctx, `SELECT r.uid, r.api_version, r.kind, n.name, r.name FROM resources r
JOIN namespaces n ON n.id = r.namespace_id
WHERE r.cluster_id = (SELECT id FROM clusters WHERE name = $1) AND r.deleted_at IS NULL`, cluster)
	if err != nil {
		return nil, fmt.Errorf("store: read resources: %w", err)
	}
	defer rows.Close()
	out := map[string]engine.Resource{}
	for rows.Next() {
		var uid string
		var r engine.Resource
		if err := rows.Scan(&uid, &r.APIVersion, &r.Kind, &r.Namespace, &r.Name); err != nil {
			return nil, fmt.Errorf("store: read resources: %w", err)
		}
		out[uid] = r
	}
	return out, wrapErr("read resources", rows.Err())
}

// Prune deletes history older than before.
func (s *db) Prune(ctx context.Context, before time.Time) (PruneStats, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ids = newIDCache() // resources may go
	var st PruneStats
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("store: prune: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	cut := ms(before)
	steps := []struct {
		n    *int64
		what string
		stmt string
		arg  int64
	}{
		{&st.Transitions, "transitions", `DELETE FROM transitions WHERE at < $1`, cut},
		{&st.DailyTransitions, "daily transition counts", `DELETE FROM daily_transitions WHERE day < $1`, dayOf(before)},
		// The last counts of a namespace stay: trends carry them forward.
		{&st.Daily, "daily counts", `DELETE FROM daily WHERE day < $1 AND day < (SELECT MAX(d2.day) FROM daily d2
  WHERE d2.cluster_id = daily.cluster_id AND d2.namespace_id = daily.namespace_id)`, dayOf(before)},
		{&st.Scans, "scans", `DELETE FROM scans WHERE finished < $1`, cut},
		{&st.Verdicts, "image verdicts", `DELETE FROM image_verdicts WHERE at < $1`, cut},
		{&st.Resources, "deleted resources", `DELETE FROM resources WHERE deleted_at IS NOT NULL AND deleted_at < $1
  AND NOT EXISTS (SELECT 1 FROM transitions t WHERE t.resource_id = resources.id)`, cut},
	}
	for _, step := range steps {
		res, err := tx.ExecContext(ctx, step.stmt, step.arg)
		if err != nil {
			return st, fmt.Errorf("store: prune %s: %w", step.what, err)
		}
		*step.n, _ = res.RowsAffected()
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("store: prune: commit: %w", err)
	}
	return st, nil
}
