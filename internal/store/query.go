package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/events"
)

// Limits of list queries.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

func limitOf(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// where adds the Filter's conditions on the results table aliased res.
// It returns false when the filter admits nothing.
func (f Filter) where(q *query) bool {
	if f.Namespaces != nil && len(f.Namespaces) == 0 {
		return false
	}
	if len(f.Clusters) > 0 {
		q.w(" AND res.cluster_id IN (SELECT id FROM clusters WHERE name IN ", q.in(f.Clusters), ")")
	}
	if f.Namespaces != nil {
		q.w(" AND res.namespace_id IN (SELECT id FROM namespaces WHERE name IN ", q.in(f.Namespaces), ")")
	}
	if f.Policy != "" {
		q.w(" AND res.policy_id IN (SELECT id FROM policies WHERE name = ", q.arg(f.Policy), ")")
	}
	if f.Severity != "" {
		q.w(" AND res.severity = ", q.arg(f.Severity))
	}
	return true
}

// Clusters lists the clusters and scan sources.
func (s *db) Clusters(ctx context.Context) ([]Cluster, error) {
	rows, err := s.sql.QueryContext(ctx, `SELECT name, first_seen, last_seen FROM clusters ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list clusters: %w", err)
	}
	defer rows.Close()
	var out []Cluster
	for rows.Next() {
		var c Cluster
		var first, last int64
		if err := rows.Scan(&c.Name, &first, &last); err != nil {
			return nil, fmt.Errorf("store: list clusters: %w", err)
		}
		c.FirstSeen, c.LastSeen = fromMS(first), fromMS(last)
		out = append(out, c)
	}
	return out, wrapErr("list clusters", rows.Err())
}

func wrapErr(what string, err error) error {
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// Namespaces lists the namespace names of clusters (all when empty).
func (s *db) Namespaces(ctx context.Context, clusters []string) ([]string, error) {
	qq := s.newQuery()
	qq.w(`SELECT DISTINCT n.name FROM namespaces n`)
	if len(clusters) > 0 {
		qq.w(` JOIN clusters c ON c.id = n.cluster_id WHERE c.name IN `, qq.in(clusters))
	}
	qq.w(` ORDER BY n.name`)
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list namespaces: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: list namespaces: %w", err)
		}
		out = append(out, n)
	}
	return out, wrapErr("list namespaces", rows.Err())
}

// Posture counts the current results grouped by q.By, ordered by the
// number of failures (most first), then key.
func (s *db) Posture(ctx context.Context, q PostureQuery) ([]PostureRow, error) {
	// The grouping columns are chosen here, never from the caller.
	var group, names, join string
	switch q.By {
	case ByCluster, "":
		group, names, join = "res.cluster_id", "c.name, ''", "JOIN clusters c ON c.id = g.k1"
	case ByNamespace:
		group, names, join = "res.cluster_id, res.namespace_id", "n.name, c.name",
			"JOIN clusters c ON c.id = g.k1 JOIN namespaces n ON n.id = g.k2"
	case ByPolicy:
		group, names, join = "res.policy_id", "p.name, ''", "JOIN policies p ON p.id = g.k1"
	case ByControl:
		group, names, join = "res.policy_id, res.rule_id", "p.name || '/' || ru.name, ''",
			"JOIN policies p ON p.id = g.k1 JOIN rules ru ON ru.id = g.k2"
	case BySeverity:
		group, names, join = "res.severity", "g.k1, ''", ""
	case ByCategory:
		group, names, join = "res.category", "g.k1, ''", ""
	default:
		return nil, fmt.Errorf("store: posture: unknown dimension %q", q.By)
	}
	keys := strings.Split(group, ", ")
	sel := make([]string, len(keys))
	for i, k := range keys {
		sel[i] = fmt.Sprintf("%s AS k%d", k, i+1)
	}
	qq := s.newQuery()
	// posture holds the current results counted per namespace and rule.
	qq.w("SELECT ", names, ", g.status, g.n FROM (SELECT ", strings.Join(sel, ", "), ", res.status AS status, SUM(res.n) AS n FROM posture res WHERE 1=1")
	if !q.where(qq) {
		return nil, nil
	}
	qq.w(" GROUP BY ", group, ", res.status) g ", join)
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: posture: %w", err)
	}
	defer rows.Close()
	type gk struct{ key, cluster string }
	at := map[gk]int{}
	var out []PostureRow
	for rows.Next() {
		var k gk
		var status string
		var n int64
		if err := rows.Scan(&k.key, &k.cluster, &status, &n); err != nil {
			return nil, fmt.Errorf("store: posture: %w", err)
		}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, PostureRow{Key: k.key, Cluster: k.cluster})
		}
		out[i].Add(engine.Status(status), n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: posture: %w", err)
	}
	for i := range out {
		out[i].Score = out[i].Counts.Score()
	}
	slices.SortFunc(out, func(a, b PostureRow) int {
		return cmp.Or(cmp.Compare(b.Fail+b.Warn, a.Fail+a.Warn), cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// severityOrder sorts critical first; unknown severities last.
const severityOrder = `res.severity_rank`

const violationColumns = `c.name, r.uid, r.api_version, r.kind, n.name, r.name, p.kind, p.name, ru.name, res.status, res.severity,
  res.category, res.message, res.path, res.image, res.digest, res.enforce, res.control, res.remediation, res.since`

const violationJoins = ` JOIN resources r ON r.id = res.resource_id
JOIN namespaces n ON n.id = res.namespace_id
JOIN clusters c ON c.id = res.cluster_id
JOIN policies p ON p.id = res.policy_id
JOIN rules ru ON ru.id = res.rule_id`

func scanViolation(rows *sql.Rows) (Violation, error) {
	var v Violation
	var status string
	var since int64
	err := rows.Scan(&v.Resource.Cluster, &v.Resource.UID, &v.Resource.APIVersion, &v.Resource.Kind, &v.Resource.Namespace,
		&v.Resource.Name, &v.PolicyKind, &v.Policy, &v.Rule, &status, &v.Severity, &v.Category, &v.Message, &v.Path,
		&v.Image, &v.Digest, &v.Enforce, &v.Control, &v.Remediation, &since)
	v.Status, v.Since = engine.Status(status), fromMS(since)
	return v, err
}

// Violations lists current failing results, most severe first, then the
// oldest. The page is chosen on the results table alone (its index
// orders by status, severity and since); names are joined to that page
// only.
func (s *db) Violations(ctx context.Context, q ViolationQuery) ([]Violation, error) {
	qq := s.newQuery()
	// failing = 1 is fail and warn: the index results_violations then
	// gives the page in order. For some namespaces, the unary plus keeps
	// SQLite from that index (it would walk every failing row in order to
	// find those of the namespaces): results_namespace_violations finds
	// them, and the page is sorted. PostgreSQL picks that index by itself
	// and needs failing as a plain column to use the index's second
	// column (with the plus it read every row of the namespace: 8x the
	// time, BenchmarkViolationsNamespace).
	qq.w("SELECT ", violationColumns, " FROM (SELECT * FROM results res WHERE ")
	if q.Namespaces != nil && s.dialect == dialectSQLite {
		qq.w("+")
	}
	qq.w("res.failing ")
	if q.Errors {
		qq.w("IN (1, 2)")
	} else {
		qq.w("= 1")
	}
	if !q.where(qq) {
		return nil, nil
	}
	if q.Rule != "" {
		qq.w(" AND res.rule_id IN (SELECT id FROM rules WHERE name = ", qq.arg(q.Rule), ")")
	}
	if q.Kind != "" {
		qq.w(" AND res.resource_id IN (SELECT id FROM resources WHERE kind = ", qq.arg(q.Kind), ")")
	}
	const order = " ORDER BY res.severity_rank, res.since, res.resource_id, res.rule_id, res.image, res.ord"
	qq.w(order, " LIMIT ", qq.arg(limitOf(q.Limit, DefaultLimit)), " OFFSET ", qq.arg(max(q.Offset, 0)), ") res", violationJoins, order)
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: violations: %w", err)
	}
	defer rows.Close()
	var out []Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: violations: %w", err)
		}
		out = append(out, v)
	}
	return out, wrapErr("violations", rows.Err())
}

// History returns one resource with its current results (every status)
// and its transitions, newest first; nil when there is no such resource
// the caller may see.
func (s *db) History(ctx context.Context, q HistoryQuery) (*ResourceHistory, error) {
	if q.Namespaces != nil && len(q.Namespaces) == 0 {
		return nil, nil
	}
	qq := s.newQuery()
	qq.w(`SELECT r.id, c.name, r.uid, r.api_version, r.kind, n.name, r.name, r.first_seen, r.last_seen, r.deleted_at
FROM resources r JOIN clusters c ON c.id = r.cluster_id JOIN namespaces n ON n.id = r.namespace_id WHERE c.name = `, qq.arg(q.Cluster))
	if q.UID != "" {
		qq.w(" AND r.uid = ", qq.arg(q.UID))
	} else {
		qq.w(" AND n.name = ", qq.arg(q.Namespace), " AND r.kind = ", qq.arg(q.Kind), " AND r.name = ", qq.arg(q.Name))
	}
	if q.Namespaces != nil {
		qq.w(" AND n.name IN ", qq.in(q.Namespaces))
	}
	qq.w(" ORDER BY r.last_seen DESC LIMIT 1")
	var h ResourceHistory
	var id, first, last int64
	var deleted sql.NullInt64
	ref := &h.Resource
	err := s.sql.QueryRowContext(ctx, qq.String(), qq.args...).Scan(&id, &ref.Cluster, &ref.UID, &ref.APIVersion, &ref.Kind,
		&ref.Namespace, &ref.Name, &first, &last, &deleted)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	h.FirstSeen, h.LastSeen = fromMS(first), fromMS(last)
	if deleted.Valid {
		t := fromMS(deleted.Int64)
		h.Deleted = &t
	}

	rows, err := s.sql.QueryContext(ctx, `SELECT ref, digest FROM resource_images WHERE resource_id = $1 ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("store: history: images: %w", err)
	}
	for rows.Next() {
		var img events.Image
		if err := rows.Scan(&img.Ref, &img.Digest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: history: images: %w", err)
		}
		h.Images = append(h.Images, img)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history: images: %w", err)
	}

	rows, err = s.sql.QueryContext(ctx, "SELECT "+violationColumns+" FROM results res"+violationJoins+
		" WHERE res.resource_id = $1 ORDER BY "+severityOrder+", p.name, ru.name, res.image, res.ord", id)
	if err != nil {
		return nil, fmt.Errorf("store: history: results: %w", err)
	}
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: history: results: %w", err)
		}
		h.Current = append(h.Current, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history: results: %w", err)
	}

	rows, err = s.sql.QueryContext(ctx, `SELECT t.type, p.kind, p.name, ru.name, t.status, t.severity, t.message, t.path, t.image,
  t.control, t.remediation, t.reason, t.at
FROM transitions t JOIN rules ru ON ru.id = t.rule_id JOIN policies p ON p.id = ru.policy_id
WHERE t.resource_id = $1 ORDER BY t.at DESC, t.id DESC LIMIT $2`, id, limitOf(q.Limit, 1000))
	if err != nil {
		return nil, fmt.Errorf("store: history: transitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t TransitionRow
		var status string
		var at int64
		if err := rows.Scan(&t.Type, &t.PolicyKind, &t.Policy, &t.Rule, &status, &t.Severity, &t.Message, &t.Path, &t.Image,
			&t.Control, &t.Remediation, &t.Reason, &at); err != nil {
			return nil, fmt.Errorf("store: history: transitions: %w", err)
		}
		t.Status, t.At = engine.Status(status), fromMS(at)
		h.Transitions = append(h.Transitions, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history: transitions: %w", err)
	}
	return &h, nil
}

// Trends returns one point per UTC day from q.From to q.To.
func (s *db) Trends(ctx context.Context, q TrendQuery) ([]DayPoint, error) {
	to := q.To
	if to.IsZero() {
		to = time.Now()
	}
	from := q.From
	if from.IsZero() {
		from = to.AddDate(0, 0, -29)
	}
	d0, d1 := dayOf(from), dayOf(to)
	if d1 < d0 {
		return nil, nil
	}
	if d1-d0 > 3660 {
		return nil, fmt.Errorf("store: trends: at most ten years at a time")
	}
	out := make([]DayPoint, d1-d0+1)
	for i := range out {
		out[i].Day = dayTime(d0 + int64(i))
	}

	// Daily counts of each namespace: those of the range and the last one
	// before it, carried forward over days without writes.
	qq := s.newQuery()
	qq.w(`SELECT res.cluster_id, res.namespace_id, res.day, res.pass, res.fail, res.warn, res.error, res.skip FROM daily res
WHERE res.day <= `, qq.arg(d1), ` AND (res.day >= `, qq.arg(d0), ` OR res.day = (SELECT MAX(d2.day) FROM daily d2
  WHERE d2.cluster_id = res.cluster_id AND d2.namespace_id = res.namespace_id AND d2.day < `, qq.arg(d0), `))`)
	f := q.Filter
	f.Policy = "" // daily counts are per namespace
	f.Severity = ""
	if !f.where(qq) {
		return nil, nil
	}
	qq.w(" ORDER BY res.cluster_id, res.namespace_id, res.day")
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: trends: %w", err)
	}
	type series struct{ cluster, ns int64 }
	var cur series
	var last *Counts
	lastDay := int64(0)
	fill := func(until int64) { // add last to days [lastDay, until)
		if last == nil {
			return
		}
		for d := max(lastDay, d0); d < until && d <= d1; d++ {
			p := &out[d-d0]
			p.Pass += last.Pass
			p.Fail += last.Fail
			p.Warn += last.Warn
			p.Error += last.Error
			p.Skip += last.Skip
		}
	}
	for rows.Next() {
		var k series
		var day int64
		var c Counts
		if err := rows.Scan(&k.cluster, &k.ns, &day, &c.Pass, &c.Fail, &c.Warn, &c.Error, &c.Skip); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: trends: %w", err)
		}
		if k != cur {
			fill(d1 + 1)
			cur, last = k, nil
		} else {
			fill(day)
		}
		last, lastDay = &c, day
	}
	fill(d1 + 1)
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: trends: %w", err)
	}

	// Violations opened and resolved per day: the writer's counts per
	// namespace and day, or, filtered by policy or severity, the
	// transitions themselves.
	qq = s.newQuery()
	if q.Policy == "" && q.Severity == "" {
		qq.w(`SELECT res.day, 'violation', SUM(res.opened) FROM daily_transitions res WHERE res.day >= `, qq.arg(d0), ` AND res.day <= `, qq.arg(d1))
		f.where(qq)
		qq.w(` GROUP BY res.day UNION ALL SELECT res.day, 'resolution', SUM(res.resolved) FROM daily_transitions res WHERE res.day >= `,
			qq.arg(d0), ` AND res.day <= `, qq.arg(d1))
		f.where(qq)
		qq.w(" GROUP BY res.day")
	} else {
		qq.w(`SELECT res.day, res.type, COUNT(*) FROM transitions res WHERE res.day >= `, qq.arg(d0), ` AND res.day <= `, qq.arg(d1))
		if !q.whereTransitions(qq) {
			return nil, nil
		}
		qq.w(" GROUP BY res.day, res.type")
	}
	rows, err = s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: trends: transitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day, n int64
		var typ string
		if err := rows.Scan(&day, &typ, &n); err != nil {
			return nil, fmt.Errorf("store: trends: transitions: %w", err)
		}
		if typ == TypeViolation {
			out[day-d0].Opened += n
		} else {
			out[day-d0].Resolved += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: trends: transitions: %w", err)
	}
	for i := range out {
		out[i].Score = out[i].Counts.Score()
	}
	return out, nil
}

// whereTransitions adds the Filter's conditions on the transitions table
// aliased res: it has the cluster_id, namespace_id and severity columns;
// the policy goes through the rule.
func (f Filter) whereTransitions(q *query) bool {
	g := f
	g.Policy = ""
	if !g.where(q) {
		return false
	}
	if f.Policy != "" {
		q.w(" AND res.rule_id IN (SELECT ru.id FROM rules ru JOIN policies p ON p.id = ru.policy_id WHERE p.name = ", q.arg(f.Policy), ")")
	}
	return true
}

// Images lists the images of current (not deleted) resources, with the
// worst verification verdict any rule gave them. It reads the per-namespace
// image counts the writer keeps (image_usage) and the verdicts, and
// aggregates them here: grouping in SQL (temporary B-trees) cost more.
// Strings are read as raw bytes and copied only for new images.
func (s *db) Images(ctx context.Context, q ImageQuery) ([]ImageRow, error) {
	qq := s.newQuery()
	// res is image_usage here: Filter's cluster and namespace columns
	// have the same names.
	qq.w(`SELECT res.ref, res.digest, res.resources FROM image_usage res WHERE 1=1`)
	f := q.Filter
	f.Policy, f.Severity = "", ""
	if !f.where(qq) {
		return nil, nil
	}
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: images: %w", err)
	}
	// at maps ref NUL digest to the index in out; key builds it in buf
	// (a lookup through string(buf) does not allocate).
	at := map[string]int{}
	var buf []byte
	key := func(ref, digest []byte) []byte {
		buf = append(append(append(buf[:0], ref...), 0), digest...)
		return buf
	}
	var out []ImageRow
	var rank []int // of out's Status
	for rows.Next() {
		var ref, digest sql.RawBytes
		var n int64
		if err := rows.Scan(&ref, &digest, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: images: %w", err)
		}
		i, ok := at[string(key(ref, digest))]
		if !ok {
			i = len(out)
			at[string(buf)] = i
			out = append(out, ImageRow{Ref: string(ref), Digest: string(digest), Status: ImageUnverified})
			rank = append(rank, imageRank(ImageUnverified))
		}
		out[i].Resources += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: images: %w", err)
	}

	qq = s.newQuery()
	qq.w(`SELECT v.ref, v.digest, v.status, v.at FROM image_verdicts v WHERE 1=1`)
	if len(q.Clusters) > 0 {
		qq.w(" AND v.cluster_id IN (SELECT id FROM clusters WHERE name IN ", qq.in(q.Clusters), ")")
	}
	rows, err = s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: images: verdicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref, digest, status sql.RawBytes
		var last int64
		if err := rows.Scan(&ref, &digest, &status, &last); err != nil {
			return nil, fmt.Errorf("store: images: verdicts: %w", err)
		}
		// A verdict about a tag applies to the pod's image as written;
		// one resolved to a digest to the image with that digest.
		i, ok := at[string(key(ref, digest))]
		if !ok {
			if i, ok = at[string(key(ref, nil))]; !ok {
				continue
			}
		}
		r := &out[i]
		var st string
		switch engine.Status(status) {
		case engine.StatusPass:
			st = ImageVerified
		case engine.StatusFail, engine.StatusWarn:
			st = ImageFailed
			r.Failed++
		case engine.StatusError:
			st = ImageError
			r.Failed++
		default:
			continue // skipped: not a verdict
		}
		r.Checks++
		if k := imageRank(st); k > rank[i] {
			r.Status, rank[i] = st, k
		}
		if t := fromMS(last); t.After(r.Verified) {
			r.Verified = t
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: images: verdicts: %w", err)
	}
	// Worst status first, then most used, then by name: sorted by index
	// (an ImageRow is large to swap).
	order := make([]int, 0, len(out))
	for i := range out {
		if q.Status == "" || out[i].Status == q.Status {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &out[i], &out[j]
		if rank[i] != rank[j] {
			return rank[j] - rank[i]
		}
		if a.Resources != b.Resources {
			return cmp.Compare(b.Resources, a.Resources)
		}
		if c := strings.Compare(a.Ref, b.Ref); c != 0 {
			return c
		}
		return strings.Compare(a.Digest, b.Digest)
	})
	order = order[min(max(q.Offset, 0), len(order)):]
	if n := limitOf(q.Limit, MaxLimit); len(order) > n {
		order = order[:n]
	}
	sorted := make([]ImageRow, len(order))
	for k, i := range order {
		sorted[k] = out[i]
	}
	return sorted, nil
}

// imageRank orders image statuses from best to worst.
func imageRank(status string) int {
	switch status {
	case ImageVerified:
		return 1
	case ImageError:
		return 2
	case ImageFailed:
		return 3
	}
	return 0 // unverified
}

// Scans lists recorded scans, newest first.
func (s *db) Scans(ctx context.Context, q ScanQuery) ([]ScanRow, error) {
	qq := s.newQuery()
	qq.w(`SELECT s.id, c.name, s.source, s.started, s.finished, s.resources, s.pass, s.fail, s.warn, s.error, s.skip
FROM scans s JOIN clusters c ON c.id = s.cluster_id WHERE 1=1`)
	if len(q.Clusters) > 0 {
		qq.w(" AND c.name IN ", qq.in(q.Clusters))
	}
	qq.w(" ORDER BY s.finished DESC, s.id DESC LIMIT ", qq.arg(limitOf(q.Limit, DefaultLimit)))
	rows, err := s.sql.QueryContext(ctx, qq.String(), qq.args...)
	if err != nil {
		return nil, fmt.Errorf("store: scans: %w", err)
	}
	defer rows.Close()
	var out []ScanRow
	for rows.Next() {
		var r ScanRow
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Cluster, &r.Source, &started, &finished, &r.Resources, &r.Pass, &r.Fail, &r.Warn, &r.Error, &r.Skip); err != nil {
			return nil, fmt.Errorf("store: scans: %w", err)
		}
		r.Started, r.Finished = fromMS(started), fromMS(finished)
		r.Score = r.Counts.Score()
		out = append(out, r)
	}
	return out, wrapErr("scans", rows.Err())
}
