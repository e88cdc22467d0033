package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/events"
)

// DefaultRetention is how long history (transitions, daily counts, scans,
// deleted resources) is kept by default.
const DefaultRetention = 90 * 24 * time.Hour

// DefaultFile is the SQLite file Open creates under a data directory.
const DefaultFile = "portcullis.db"

// Store is the findings store. Implementations are safe for concurrent
// use.
type Store interface {
	// Write applies a batch in one transaction: all of it or nothing.
	Write(ctx context.Context, b *Batch) error
	// Failing returns the current failing results (fail and warn) of a
	// cluster's resources by UID: what a restarted process resumes from.
	Failing(ctx context.Context, cluster string) (map[string][]engine.Result, error)
	// Live returns the resources of a cluster that are not deleted, by
	// UID.
	Live(ctx context.Context, cluster string) (map[string]engine.Resource, error)
	// Prune deletes history older than before: transitions, daily counts,
	// scans, image verdicts, and resources deleted before it.
	Prune(ctx context.Context, before time.Time) (PruneStats, error)

	// Clusters lists the known clusters (and scan sources).
	Clusters(ctx context.Context) ([]Cluster, error)
	// Namespaces lists the names of the namespaces of clusters (every
	// cluster when empty), sorted; "" is the cluster-scoped resources.
	Namespaces(ctx context.Context, clusters []string) ([]string, error)
	// Posture counts the current results grouped by one dimension.
	Posture(ctx context.Context, q PostureQuery) ([]PostureRow, error)
	// Violations lists current failing results.
	Violations(ctx context.Context, q ViolationQuery) ([]Violation, error)
	// History returns one resource and its transitions, newest first.
	History(ctx context.Context, q HistoryQuery) (*ResourceHistory, error)
	// Trends returns posture counts and transitions per UTC day.
	Trends(ctx context.Context, q TrendQuery) ([]DayPoint, error)
	// Images lists the images of current resources with their
	// verification status.
	Images(ctx context.Context, q ImageQuery) ([]ImageRow, error)
	// Scans lists recorded offline scans, newest first.
	Scans(ctx context.Context, q ScanQuery) ([]ScanRow, error)

	// SchemaVersion returns the applied schema version.
	SchemaVersion(ctx context.Context) (int, error)
	// Close releases the database.
	Close() error
}

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer binary.
var ErrSchemaTooNew = errors.New("the database schema is newer than this binary")

// Config selects and opens a store.
type Config struct {
	// URL is "postgres://..." (or "postgresql://..."), "sqlite://PATH",
	// "file:PATH" or a plain file path. Empty: DataDir/DefaultFile.
	URL string
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
}

// Open opens (and migrates) the store c names.
func Open(ctx context.Context, c Config) (Store, error) {
	u := c.URL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return OpenPostgres(ctx, u)
	case u == "":
		if c.DataDir == "" {
			return nil, errors.New("store: give a store URL or a data directory")
		}
		return OpenSQLite(ctx, filepath.Join(c.DataDir, DefaultFile))
	case strings.HasPrefix(u, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(u, "sqlite://"))
	case strings.HasPrefix(u, "file:"):
		return OpenSQLite(ctx, strings.TrimPrefix(u, "file:"))
	case strings.Contains(u, "://"):
		return nil, fmt.Errorf("store: unsupported store URL scheme in %q (want postgres://, sqlite:// or a file path)", redact(u))
	default:
		return OpenSQLite(ctx, u)
	}
}

// redact hides the password of a URL in messages.
func redact(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":xxxxx" + u[at:]
	}
	return u
}

// Batch is what one transaction writes, in order.
type Batch struct {
	Ops []Op
}

// Op is one write. Exactly one field is set.
type Op struct {
	Observe    *Observation
	Delete     *Deletion
	Transition *Transition
	Policies   *PolicySnapshot
	Scan       *Scan
}

// Observation is a resource's full current results at one evaluation.
type Observation struct {
	Cluster  string
	UID      string
	Resource engine.Resource
	Images   []events.Image
	Results  []engine.Result
	At       time.Time
}

// Deletion says a resource is gone: its current results are removed and
// it is kept, marked deleted, for its history.
type Deletion struct {
	Cluster  string
	UID      string
	Resource engine.Resource
	At       time.Time
}

// Transition is a compliance change of one rule on one resource.
type Transition struct {
	Cluster string
	events.Transition
}

// PolicySnapshot records the policies a cluster (or a scan) runs.
type PolicySnapshot struct {
	Cluster  string
	Policies []Policy
	At       time.Time
}

// Policy is one loaded policy and its rules.
type Policy struct {
	Kind, Name                string
	Title, Severity, Category string
	// Generation is metadata.generation (0 for files); Hash a digest of
	// the spec, which changes when the policy does.
	Generation int64
	Hash       string
	Rules      []string
}

// Scan is a summary of one offline scan. Its resources and results are
// recorded as Observations of the same Cluster in the same batch.
type Scan struct {
	Cluster           string
	Source            string
	Started, Finished time.Time
	Resources         int
	Counts            Counts
}

// Counts are numbers of results by status.
type Counts struct {
	Pass  int64 `json:"pass"`
	Fail  int64 `json:"fail"`
	Warn  int64 `json:"warn"`
	Error int64 `json:"error"`
	Skip  int64 `json:"skip"`
}

// Add counts one result of status s.
func (c *Counts) Add(s engine.Status, n int64) {
	switch s {
	case engine.StatusPass:
		c.Pass += n
	case engine.StatusFail:
		c.Fail += n
	case engine.StatusWarn:
		c.Warn += n
	case engine.StatusError:
		c.Error += n
	case engine.StatusSkip:
		c.Skip += n
	}
}

// Score is the percentage of passing results among pass, fail and warn
// (as the scan report computes it), 100 when there are none.
func (c Counts) Score() float64 {
	n := c.Pass + c.Fail + c.Warn
	if n == 0 {
		return 100
	}
	return float64(int(float64(c.Pass)/float64(n)*1000+0.5)) / 10
}

// PruneStats counts what Prune deleted.
type PruneStats struct {
	Transitions, DailyTransitions, Daily, Scans, Verdicts, Resources int64
}

// Cluster is one cluster or scan source.
type Cluster struct {
	Name                string
	FirstSeen, LastSeen time.Time
}

// Filter restricts a query. Empty fields do not restrict, except
// Namespaces: a nil list means every namespace, a non-nil empty list
// none (a caller allowed to see nothing sees nothing).
type Filter struct {
	Clusters []string
	// Namespaces the caller may see; "" is the cluster-scoped resources.
	Namespaces []string
	Policy     string
	Severity   string
}

// Dimension is what Posture groups by.
type Dimension string

// Dimensions of Posture.
const (
	ByCluster   Dimension = "cluster"
	ByNamespace Dimension = "namespace"
	ByPolicy    Dimension = "policy"
	// ByControl groups by rule (policy and rule): one control.
	ByControl  Dimension = "control"
	BySeverity Dimension = "severity"
	ByCategory Dimension = "category"
)

// PostureQuery asks for posture grouped By a dimension.
type PostureQuery struct {
	Filter
	By Dimension
}

// PostureRow is the current results of one group.
type PostureRow struct {
	// Key is the group: cluster, namespace, policy, "policy/rule",
	// severity or category. Cluster is set for namespace groups.
	Key     string `json:"key"`
	Cluster string `json:"cluster,omitempty"`
	Counts
	Score float64 `json:"score"`
}

// ViolationQuery lists failing results (fail and warn; errors too with
// Errors) ordered by severity, then since (oldest first).
type ViolationQuery struct {
	Filter
	Rule   string
	Kind   string
	Errors bool
	// Limit (default 100, at most 10000) and Offset page the list.
	Limit, Offset int
}

// ResourceRef names a resource in query answers.
type ResourceRef struct {
	Cluster    string `json:"cluster"`
	UID        string `json:"uid"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Violation is one current failing result.
type Violation struct {
	Resource   ResourceRef   `json:"resource"`
	PolicyKind string        `json:"policyKind"`
	Policy     string        `json:"policy"`
	Rule       string        `json:"rule"`
	Status     engine.Status `json:"status"`
	Severity   string        `json:"severity,omitempty"`
	Category   string        `json:"category,omitempty"`
	Message    string        `json:"message,omitempty"`
	Path       string        `json:"path,omitempty"`
	Image      string        `json:"image,omitempty"`
	Digest     string        `json:"digest,omitempty"`
	Enforce    bool          `json:"enforce"`
	// Control names the control of a control library the rule
	// implements; Remediation tells how to fix the failure.
	Control     string    `json:"control,omitempty"`
	Remediation string    `json:"remediation,omitempty"`
	Since       time.Time `json:"since"`
}

// HistoryQuery names a resource by cluster and UID, or by cluster,
// namespace, kind and name (the most recently seen with that name).
type HistoryQuery struct {
	Cluster, UID          string
	Namespace, Kind, Name string
	// Namespaces restricts as Filter.Namespaces does.
	Namespaces []string
	// Limit bounds the transitions (default 1000).
	Limit int
}

// ResourceHistory is a resource, its images and current results, and its
// transitions newest first.
type ResourceHistory struct {
	Resource    ResourceRef     `json:"resource"`
	FirstSeen   time.Time       `json:"firstSeen"`
	LastSeen    time.Time       `json:"lastSeen"`
	Deleted     *time.Time      `json:"deleted,omitempty"`
	Images      []events.Image  `json:"images,omitempty"`
	Current     []Violation     `json:"current"`
	Transitions []TransitionRow `json:"transitions"`
}

// TransitionRow is one recorded transition.
type TransitionRow struct {
	Type        string        `json:"type"`
	PolicyKind  string        `json:"policyKind"`
	Policy      string        `json:"policy"`
	Rule        string        `json:"rule"`
	Status      engine.Status `json:"status"`
	Severity    string        `json:"severity,omitempty"`
	Message     string        `json:"message,omitempty"`
	Path        string        `json:"path,omitempty"`
	Image       string        `json:"image,omitempty"`
	Control     string        `json:"control,omitempty"`
	Remediation string        `json:"remediation,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	At          time.Time     `json:"at"`
}

// TrendQuery asks for the days from From to To (UTC days, inclusive;
// default the last 30 days).
type TrendQuery struct {
	Filter
	From, To time.Time
}

// DayPoint is one UTC day: the posture at its end (the last counts
// recorded that day, carried forward over days without writes) and the
// violations opened and resolved during it.
type DayPoint struct {
	Day time.Time `json:"day"`
	Counts
	Score    float64 `json:"score"`
	Opened   int64   `json:"opened"`
	Resolved int64   `json:"resolved"`
}

// ImageQuery lists images; Status keeps only one verification status.
type ImageQuery struct {
	Filter
	Status string
	// Limit (default and at most MaxLimit) and Offset page the list, in
	// its order: worst status first, then most used, then by reference.
	Limit, Offset int
}

// Image verification statuses of ImageRow.
const (
	ImageVerified   = "verified"
	ImageFailed     = "failed"
	ImageError      = "error"
	ImageUnverified = "unverified" // no verification result at all
)

// ImageRow is one image (reference and digest) of current resources.
type ImageRow struct {
	Ref       string `json:"ref"`
	Digest    string `json:"digest,omitempty"`
	Resources int64  `json:"resources"`
	// Status is the worst verdict: failed, error, verified, or unverified
	// when no rule checked it.
	Status   string    `json:"status"`
	Checks   int64     `json:"checks"`
	Failed   int64     `json:"failed"`
	Verified time.Time `json:"verified,omitzero"`
}

// ScanQuery lists scans.
type ScanQuery struct {
	Clusters []string
	Limit    int
}

// ScanRow is one recorded scan.
type ScanRow struct {
	ID        int64     `json:"id"`
	Cluster   string    `json:"cluster"`
	Source    string    `json:"source"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Resources int64     `json:"resources"`
	Counts
	Score float64 `json:"score"`
}
