// Package store is the findings store: where the fleet's compliance is
// kept over time, for the dashboard and for questions the PolicyReports in
// etcd cannot answer ("since when", "what changed after yesterday's
// rollout", "which images are unverified across all clusters").
//
// One interface, Store, has two implementations on database/sql sharing
// their SQL (parameterised only, $N placeholders): embedded SQLite
// (modernc.org/sqlite, pure Go, a file under --data-dir; OpenSQLite) and
// PostgreSQL (github.com/jackc/pgx/v5; OpenPostgres). Open picks one from a
// URL. Each opens with its embedded, versioned schema migrations
// (migrations/<dialect>/NNNN_name.sql) applied in one transaction per
// version and recorded in schema_migrations; a database whose schema is
// newer than the binary is refused.
//
// The store holds clusters, namespaces, resources (kind, name, uid, images
// with digests), policies and rules (with generation and content hash),
// the current results of every resource, every compliance transition (the
// violations and resolutions of internal/sink/events' Tracker, the same
// ones that become CloudEvents), image verification verdicts, posture
// counts per namespace and rule (kept current at each write, so posture
// queries do not read every result), daily counts per namespace and
// offline scans. A resource whose results did not change since the last
// write costs one row update.
//
// Writes are batched off the evaluation path: a Writer keeps a bounded
// queue that Record never blocks on (when it is full the oldest entry is
// dropped, counted in portcullis_store_dropped_total and logged), and its
// flusher writes each batch in one transaction, so a crash loses at most
// the batch not yet flushed. The Writer also prunes history older than the
// retention. A Recorder is the background controller's Observer: it turns
// each evaluation into transitions (events.Tracker, resumed from the
// store's current failures on restart) and hands them to the Writer.
//
// The query side (Posture, Violations, History, Trends, Images, Scans,
// Clusters) serves the dashboard; every query takes a Filter whose
// namespace list restricts what a caller may see.
package store
