package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

//go:embed migrations
var migrationFS embed.FS

// dialect is the SQL flavour of a database.
type dialect string

const (
	dialectSQLite   dialect = "sqlite"
	dialectPostgres dialect = "postgres"
)

// db implements Store on database/sql. The two dialects share every
// statement ($N placeholders, ON CONFLICT, RETURNING); only the schema
// migrations differ.
type db struct {
	sql     *sql.DB
	dialect dialect

	// wmu serialises writers; it guards ids and token.
	wmu   sync.Mutex
	ids   *idCache
	token int64
}

// OpenSQLite opens (creating it if needed) and migrates the SQLite store
// in file.
func OpenSQLite(ctx context.Context, file string) (Store, error) {
	if file == "" || strings.ContainsAny(file, "?#") {
		return nil, fmt.Errorf("store: invalid SQLite file name %q", file)
	}
	if dir := filepath.Dir(file); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data directory: %w", err)
		}
	}
	// WAL lets the dashboard read while the flusher writes; writers take
	// the lock when they begin (immediate) and wait for each other.
	dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", file, err)
	}
	s.SetMaxOpenConns(8)
	s.SetMaxIdleConns(8)
	return start(ctx, s, dialectSQLite, file)
}

// OpenPostgres connects to and migrates the PostgreSQL store at url
// (postgres://user:password@host:port/db?sslmode=...).
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	s, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL %s: %w", redact(url), err)
	}
	s.SetMaxOpenConns(16)
	s.SetMaxIdleConns(8)
	return start(ctx, s, dialectPostgres, redact(url))
}

func start(ctx context.Context, s *sql.DB, d dialect, name string) (Store, error) {
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", name, err)
	}
	if err := migrate(ctx, s, d); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", name, err)
	}
	return &db{sql: s, dialect: d, ids: newIDCache()}, nil
}

// Close releases the database.
func (s *db) Close() error { return s.sql.Close() }

// migration is one embedded schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations of d in version order.
// Files are named NNNN_name.sql.
func migrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: rest, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations of %s: version %d where %d was expected", d, m.version, i+1)
		}
	}
	return out, nil
}

// LatestSchema is the schema version this binary writes.
func LatestSchema() int {
	ms, err := migrations(dialectSQLite)
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the migrations the database lacks, each in its own
// transaction, and refuses a database newer than the binary.
func migrate(ctx context.Context, s *sql.DB, d dialect) error {
	ms, err := migrations(d)
	if err != nil {
		return err
	}
	return migrateTo(ctx, s, d, ms)
}

// migrateTo applies the migrations of ms the database lacks.
func migrateTo(ctx context.Context, s *sql.DB, d dialect, ms []migration) error {
	if _, err := s.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at BIGINT  NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for {
		applied, err := applyNext(ctx, s, d, ms)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// applyNext applies the next missing migration under a lock (an
// immediate transaction in SQLite, an advisory lock in PostgreSQL, so
// replicas starting together migrate once) and reports whether it did.
func applyNext(ctx context.Context, s *sql.DB, d dialect, ms []migration) (bool, error) {
	tx, err := s.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if d == dialectPostgres {
		// An arbitrary constant: "portcullis" as a number.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7048111432)`); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	v := int(current.Int64)
	if v > len(ms) {
		return false, fmt.Errorf("%w: schema version %d, this binary knows up to %d; run a newer Portcullis (or restore a backup)", ErrSchemaTooNew, v, len(ms))
	}
	if v == len(ms) {
		return false, nil
	}
	m := ms[v]
	for _, stmt := range statements(m.sql) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("migration %04d_%s: record: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %04d_%s: commit: %w", m.version, m.name, err)
	}
	return true, nil
}

// statements splits a migration file into statements: "--" comment lines
// are dropped, then the text is split at semicolons (our files keep them
// out of literals).
func statements(script string) []string {
	var lines []string
	for l := range strings.SplitSeq(script, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for part := range strings.SplitSeq(strings.Join(lines, "\n"), ";") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// SchemaVersion returns the applied schema version.
func (s *db) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.sql.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// query builds a parameterised statement: values are always arguments,
// never text of the statement. Placeholders are written in the order of
// their arguments: "$N" for PostgreSQL, "?" for SQLite (whose parser and
// binder look named and numbered parameters up linearly, which made
// statements of thousands of parameters quadratic).
type query struct {
	sb   strings.Builder
	args []any
	anon bool
}

// newQuery returns an empty query in the database's placeholder style.
func (s *db) newQuery() *query { return &query{anon: s.dialect == dialectSQLite} }

// arg adds a value and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	if q.anon {
		return "?"
	}
	return "$" + strconv.Itoa(len(q.args))
}

// in returns "(…placeholders…)" for vals.
func (q *query) in(vals []string) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = q.arg(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

func (q *query) w(parts ...string) *query {
	for _, p := range parts {
		q.sb.WriteString(p)
	}
	return q
}

func (q *query) String() string { return q.sb.String() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// dayOf is the UTC day number of t.
func dayOf(t time.Time) int64 { return t.Unix() / 86400 }

func dayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
