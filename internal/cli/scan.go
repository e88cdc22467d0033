package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/schema"
	"github.com/portcullis/portcullis/internal/sink/report"
	"github.com/portcullis/portcullis/internal/source/files"
	"github.com/spf13/cobra"
)

// AllowedRegistriesVariable is the variable the built-in
// restrict-image-registries policy reads its approved registries from.
const AllowedRegistriesVariable = "allowedRegistries"

type scanOptions struct {
	policies   []string
	exceptions []string
	sets       []string
	registries []string
	failOn     string
	output     string
	all        bool
	allowEmpty bool
	exclude    []string
	crds       []string
	noSchema   bool
	store      string
	noColor    bool
	verbose    bool
	width      int
}

func newScanCommand() *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Evaluate manifests against policies",
		Long: `Evaluate Kubernetes manifests against policies and report what fails.

PATH is a file, a directory (walked recursively for .yaml, .yml and .json files)
or - for standard input. Files may hold several YAML documents or JSON, and List
kinds are expanded. In a directory, what --exclude and the directory's
.portcullisignore name (gitignore-like globs, ** for any depth, ! to re-include)
is left out, and so are hidden directories and the templates/ of Helm charts
(render them: helm template CHART | portcullis scan -). Documents that are not
Kubernetes resources (no kind: values.yaml, Chart.yaml, CI workflows; kustomize
and Kyverno CLI files) are skipped with a notice on stderr, counted in the
table and listed in -o json and -o sarif.

Every resource is first validated against the schema of its kind (built-in
kinds from k8s.io/api, custom resources from --crd): unknown fields, wrong
types and missing required fields are failures of their own (policy
kubernetes-schema, severity critical) and policies are not evaluated on that
document. Kinds without a schema are evaluated with a notice. --no-schema
turns validation off.

Without --policy, the built-in control library is used: Pod Security Standards
baseline (11 rules) and restricted (6 rules), plus three runbook policies
(CPU/memory requests and limits, approved image registries, restrictive security
context). Pod rules also apply to Deployments, DaemonSets, StatefulSets,
ReplicaSets, Jobs and CronJobs (Kyverno autogen).

The table groups findings by resource (file:line, Kind/namespace/name), one
line per failed rule with its control ID, severity, the line of the failing
field and a short message, cut to the terminal's width (--verbose for whole
messages), then the failed controls and the score. -o json and -o sarif
(SARIF 2.1.0) carry every detail. Output is written as the scan goes; on a
terminal, a progress line on stderr shows how far a long scan is.

Exit codes: 0 nothing failed at or above --fail-on, 1 something did,
2 invalid input (unreadable manifest, malformed policy, bad flag, or no
resources at all unless --allow-empty).`,
		Example: `  # scan a directory with the built-in controls
  portcullis scan ./manifests

  # only the restricted Pod Security Standard, images from our registry
  portcullis scan ./manifests --set pss-restricted --set runbook --allowed-registry 'registry.example.com/*'

  # your own Kyverno policies, JSON output, fail only on high severity
  portcullis scan deploy.yaml --policy ./policies -o json --fail-on high

  # with the PolicyExceptions of a directory (exempted rules are skipped)
  portcullis scan ./manifests --policy ./policies --exceptions ./exceptions

  # SARIF for code scanning
  portcullis scan ./manifests -o sarif > portcullis.sarif

  # a repository: leave out test data, validate custom resources with their CRDs
  portcullis scan . --exclude '**/testdata/' --crd ./config/crd

  # from a pipeline (Helm chart templates in a directory are skipped: render them)
  helm template ./chart | portcullis scan -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.policies, "policy", "p", nil, "policy file or directory (repeatable); default: the built-in control library")
	f.StringArrayVar(&o.exceptions, "exceptions", nil, "file or directory of PolicyExceptions (kyverno.io/v2, policies.kyverno.io) applied to the policies (repeatable); exempted rules are reported as skipped, naming the exception")
	f.StringArrayVar(&o.sets, "set", nil, fmt.Sprintf("built-in control set to use (repeatable): %s; default all", strings.Join(controls.Sets(), ", ")))
	f.StringArrayVar(&o.registries, "allowed-registry", nil, "approved image prefix for the built-in registry policy, wildcards allowed (repeatable); default gcr.io/* and ghcr.io/org/*")
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a failure has this severity or higher: low, medium, high, critical, or none")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or sarif (SARIF 2.1.0, for code scanning)")
	f.BoolVar(&o.noColor, "no-color", false, "never colour the table (colours are used only on a terminal, and never with NO_COLOR set or TERM=dumb)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "table: print messages whole, with each finding's policy, rule and path")
	f.IntVar(&o.width, "width", -1, "table: cut lines to this many columns (0 never cuts); default the terminal's width, or $COLUMNS, else whole lines")
	f.BoolVar(&o.allowEmpty, "allow-empty", false, "report success when the input holds no resources (by default an empty input is an error: an upstream step such as helm template may have failed)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave out paths matching this glob, relative to each directory scanned (repeatable; ** matches any depth; as in .portcullisignore)")
	f.StringArrayVar(&o.crds, "crd", nil, "CustomResourceDefinition file or directory whose schemas validate custom resources (repeatable)")
	f.BoolVar(&o.noSchema, "no-schema", false, "do not validate resources against the schema of their kind; evaluate every document")
	f.StringVar(&o.store, "store", "", "record the scan in a findings store: postgres://... or a SQLite file (the source is named scan:PATHS; scanning the same paths again records what changed)")
	f.BoolVar(&o.all, "all", false, "list passing and skipped results too (table and JSON); by default they are only counted")
	return cmd
}

func runScan(cmd *cobra.Command, args []string, o scanOptions) error {
	failRank, err := report.ParseFailOn(o.failOn)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	switch o.output {
	case "table", "json", "sarif":
	default:
		return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table, json or sarif)", o.output))
	}
	if len(o.policies) > 0 && (len(o.sets) > 0 || len(o.registries) > 0) {
		return withCode(ExitInvalid, errors.New("--set and --allowed-registry apply to the built-in policies; they cannot be combined with --policy"))
	}
	for _, r := range o.registries {
		if r == "" || strings.ContainsAny(r, " |&\t\n") {
			return withCode(ExitInvalid, fmt.Errorf("invalid --allowed-registry %q: give one image prefix such as registry.example.com/*", r))
		}
	}
	set, err := loadScanPolicies(o)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	chunks, skippedFiles, err := files.ReadTree(args, cmd.InOrStdin(), files.Options{Exclude: o.exclude, SkipCharts: true})
	if err != nil {
		// The errors name the files ("read x.yaml: ..."); no prefix.
		return withCode(ExitInvalid, err)
	}
	ev := &files.Evaluator{Engine: engine.New(), Set: set, SkipNonResources: true}
	if !o.noSchema {
		ev.Schema = schema.New()
		if len(o.crds) > 0 {
			if err := ev.Schema.LoadCRDs(o.crds); err != nil {
				return withCode(ExitInvalid, fmt.Errorf("--crd: %w", err))
			}
		}
	} else if len(o.crds) > 0 {
		return withCode(ExitInvalid, errors.New("--crd gives schemas to validate with; it cannot be combined with --no-schema"))
	}
	notices := newInputNotices(cmd.ErrOrStderr(), skippedFiles)
	var env files.Env
	if len(o.registries) > 0 {
		v := map[string]any{AllowedRegistriesVariable: strings.Join(o.registries, " | ")}
		env.Values = engine.ValuesFunc(func(string, string, string) map[string]any { return v })
	}
	var stream files.Stream = chunks
	if set.UsesCEL() {
		// CEL policies may look up other resources (resource.Get, params of
		// bindings, namespaceObject): serve them from the scanned manifests,
		// decoded once for both.
		docs, err := chunks.DecodeAll()
		if err == nil {
			env.Resources, err = files.Resources(docs)
		}
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("read manifests: %w", err))
		}
		env.Namespaces = files.Namespaces(docs)
		stream = files.Documents(docs)
	}
	ev.Inputs = env
	ev.Locate = true
	recorded, err := openScanStore(cmd.Context(), o.store, args, set)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	defer recorded.close()
	scan := report.NewScan(set.Len(), set.NumRules(), scanCatalog(set, ev.Schema != nil))
	out := cmd.OutOrStdout()
	w := scanWriter(out, scan, o)
	var prog *progress
	if errOut := cmd.ErrOrStderr(); isTTY(errOut) {
		prog = newProgress(errOut, chunkSizes(stream))
		notices.clear = prog.Clear // notices share stderr with the progress line
	}
	// With the table on the same terminal as the progress line, the line
	// is cleared before each resource's group and the group written out.
	interleaved := prog != nil && isTTY(out)
	var writeErr error
	sink := files.SinkFunc(func(r files.Outcome) {
		if notices.put(r) {
			return
		}
		recorded.add(r)
		if interleaved {
			prog.Clear()
		}
		d := r.Document
		if err := w.Put(&report.Resource{File: d.Source, Line: r.Line, Document: d.Index, Results: r.Results, Lines: r.Lines}); err != nil && writeErr == nil {
			writeErr = err
		}
		if interleaved {
			if err := w.Flush(); err != nil && writeErr == nil {
				writeErr = err
			}
		}
	})
	if prog != nil {
		ev.Progress = func(done, total int) { prog.Update(scan.Resources(), done, total) }
	}
	runErr := ev.Run(cmd.Context(), stream, sink)
	if prog != nil {
		prog.Clear()
	}
	scan.Skipped = notices.skipped
	if runErr != nil {
		if ctxErr := cmd.Context().Err(); ctxErr != nil {
			return withCode(ExitInvalid, fmt.Errorf("scan interrupted: %w", ctxErr))
		}
		if scan.Resources() > 0 {
			// What was scanned is reported (a complete document), the
			// documents that failed make the run fail.
			_ = w.Close()
		}
		return withCode(ExitInvalid, runErr)
	}
	if scan.Resources() == 0 && !o.allowEmpty {
		skipped := ""
		if n := len(notices.skipped); n > 0 {
			skipped = fmt.Sprintf("; %d %s skipped", n, plural(n, "file", "files"))
		}
		return withCode(ExitInvalid, fmt.Errorf("no resources found in %s (an empty input passes nothing; use --allow-empty if that is expected%s)", strings.Join(args, ", "), skipped))
	}
	if err := recorded.write(cmd.Context()); err != nil {
		return withCode(ExitInvalid, err)
	}
	if err := w.Close(); err != nil {
		return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
	}
	if writeErr != nil {
		return withCode(ExitInvalid, fmt.Errorf("write the report: %w", writeErr))
	}
	if scan.FailsAt(failRank) {
		return withCode(ExitFindings, fmt.Errorf("policy failures at or above severity %s", o.failOn))
	}
	return nil
}

func loadScanPolicies(o scanOptions) (*policy.Set, error) {
	set, err := loadScanPolicySet(o)
	if err != nil || len(o.exceptions) == 0 {
		return set, err
	}
	xs, err := policy.LoadExceptions(o.exceptions)
	if err != nil {
		return nil, fmt.Errorf("load exceptions: %w", err)
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("no PolicyExceptions found in %s", strings.Join(o.exceptions, ", "))
	}
	return set.WithExceptions(append(slices.Clip(set.Exceptions), xs...)), nil
}

func loadScanPolicySet(o scanOptions) (*policy.Set, error) {
	if len(o.policies) > 0 {
		set, err := policy.LoadFiles(o.policies, policy.Options{})
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		if set.Len() == 0 {
			return nil, fmt.Errorf("no policies found in %s", strings.Join(o.policies, ", "))
		}
		return set, nil
	}
	builtin, err := controls.Files(o.sets...)
	if err != nil {
		return nil, err
	}
	var docs []manifest.Document
	for _, f := range builtin {
		d, err := manifest.Decode("builtin:"+f.Path, f.Data)
		if err != nil {
			return nil, fmt.Errorf("built-in policy %s: %w", f.Path, err)
		}
		docs = append(docs, d...)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		return nil, fmt.Errorf("built-in policies: %w", err)
	}
	return set, nil
}

// inputNotices tells, on stderr, what a scan left out: each skipped file
// once (Helm chart templates once per chart), and each kind evaluated
// without a schema once. It keeps the skipped files for the JSON output.
type inputNotices struct {
	w       io.Writer
	skipped []manifest.Skipped
	byFile  map[string]int // index in skipped
	kinds   map[string]bool
	// clear, when set, is called before a notice is written (it erases
	// the progress line).
	clear func()
}

func newInputNotices(w io.Writer, skipped []manifest.Skipped) *inputNotices {
	n := &inputNotices{w: w, byFile: map[string]int{}, kinds: map[string]bool{}}
	charts := map[string]int{}
	var order []string
	for _, s := range skipped {
		dir := filepath.Dir(s.Path)
		if _, ok := charts[dir]; !ok {
			order = append(order, dir)
		}
		charts[dir]++
		n.add(s)
	}
	for _, dir := range order {
		fmt.Fprintf(w, "notice: skipped %s: %d %s (render the chart: helm template CHART | portcullis scan -)\n",
			dir, charts[dir], plural(charts[dir], "Helm chart template", "Helm chart templates"))
	}
	return n
}

func (n *inputNotices) add(s manifest.Skipped) {
	n.byFile[s.Path] = len(n.skipped)
	n.skipped = append(n.skipped, s)
}

// put notes what o says about the input and reports whether o is a
// skipped document (no resource).
func (n *inputNotices) put(o files.Outcome) bool {
	if o.Skipped != "" {
		if i, ok := n.byFile[o.Document.Source]; ok {
			n.skipped[i].Documents++
			return true
		}
		n.add(manifest.Skipped{Path: o.Document.Source, Reason: o.Skipped, Documents: 1})
		n.before()
		fmt.Fprintf(n.w, "notice: skipped %s: %s\n", o.Document.Location(), o.Skipped)
		return true
	}
	if o.Unvalidated {
		key := o.Document.APIVersion() + " " + o.Document.Kind()
		if !n.kinds[key] {
			n.kinds[key] = true
			n.before()
			fmt.Fprintf(n.w, "notice: no schema for %s (first at %s): evaluated without schema validation (give its CustomResourceDefinition with --crd)\n", key, o.Document.Location())
		}
	}
	return false
}

// before erases the progress line, if any, before a notice.
func (n *inputNotices) before() {
	if n.clear != nil {
		n.clear()
	}
}

// scanWriter returns the report writer of o.output on out.
func scanWriter(out io.Writer, scan *report.Scan, o scanOptions) report.Writer {
	switch o.output {
	case "json":
		return report.NewJSONWriter(out, scan, o.all)
	case "sarif":
		return report.NewSARIFWriter(out, scan, report.Build{Name: "portcullis", Version: Build().Version})
	}
	width := o.width
	if width < 0 {
		width = terminalWidth(out)
	}
	return report.NewTableWriter(out, scan, report.TableOptions{All: o.all, Color: colorEnabled(out, o.noColor),
		Width: width, Verbose: o.verbose})
}

// annotationDescription is the policy annotation with its description.
const annotationDescription = "policies.kyverno.io/description"

// scanCatalog describes the policies of set for the report: control IDs,
// titles and rule counts; with schemas, also the pseudo-policy of schema
// results (files.SchemaPolicy), so that SARIF lists them under a rule.
func scanCatalog(set *policy.Set, schemas bool) report.Catalog {
	c := report.Catalog{}
	if schemas {
		c[report.CatalogKey(files.SchemaPolicyKind, files.SchemaPolicy)] = report.PolicyInfo{
			Title:       "Kubernetes schema",
			Description: "The resource matches the schema of its kind (built-in kinds from k8s.io/api, custom resources from --crd): no unknown fields, wrong types or missing required fields.",
			Severity:    files.SchemaSeverity, Rules: 1}
	}
	for _, p := range set.Policies {
		kind := engine.KindClusterPolicy
		if p.Spec.IsNamespaced() {
			kind = engine.KindPolicy
		}
		written, longest := 0, 0
		for _, r := range p.Rules {
			if r.Autogen == "" {
				written++
			}
			longest = max(longest, len(r.Name()))
		}
		c[report.CatalogKey(kind, p.Key())] = report.PolicyInfo{ControlID: p.Spec.Annotations[policy.AnnotationControlID],
			Title: p.Title, Description: p.Spec.Annotations[annotationDescription], Severity: p.Severity,
			Rules: written, LongestRule: longest}
	}
	for _, p := range set.Validating {
		c[report.CatalogKey(engine.KindValidatingPolicy, p.Name())] = report.PolicyInfo{
			ControlID: p.Spec.Annotations[policy.AnnotationControlID], Title: p.Title,
			Description: p.Spec.Annotations[annotationDescription], Severity: p.Severity, Rules: 1}
	}
	for _, p := range set.Admission {
		c[report.CatalogKey(engine.KindValidatingAdmissionPolicy, p.Name())] = report.PolicyInfo{
			ControlID: p.Spec.Annotations[policy.AnnotationControlID], Rules: len(p.Bindings)}
	}
	for _, p := range set.Images {
		c[report.CatalogKey(engine.KindClusterImagePolicy, p.Name())] = report.PolicyInfo{
			ControlID: p.Object.Annotations[policy.AnnotationControlID], Rules: 1}
	}
	return c
}

// chunkSizes returns, for a stream of undecoded chunks, the bytes of input
// up to and including each chunk (for the progress line); nil for other
// streams.
func chunkSizes(s files.Stream) []int64 {
	chunks, ok := s.(files.Chunks)
	if !ok {
		return nil
	}
	sizes := make([]int64, len(chunks))
	var n int64
	for i, c := range chunks {
		n += int64(len(c.Data))
		sizes[i] = n
	}
	return sizes
}
