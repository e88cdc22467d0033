package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/posture"
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

	// The framework view (Kubescape's terms).
	frameworks          []string
	controls            []string
	excludeNamespaces   []string
	severityThreshold   string
	complianceThreshold float64
	// Live cluster scan.
	cluster      bool
	kubeconfig   string
	kubeContext  string
	allowPartial bool
	// library is a Kubescape control library directory (--library, or
	// $PORTCULLIS_LIBRARY); controlConfig overrides its configuration
	// inputs (--control-config).
	library       string
	controlConfig string
}

func newScanCommand() *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
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

--framework nsa,cis and --control PC-0001,PSS-B-03 select the controls of a
library that run (the built-in library has the frameworks nsa and cis; with
--library DIR, a Kubescape control library's frameworks and C-NNNN controls)
and turn on the framework view: a line per control (ID, name, severity,
failed/total resources, compliance score), a compliance score per framework
and for the scan, computed as Kubescape computes them (see the README).
--severity-threshold (the same as --fail-on) and --compliance-threshold
decide the exit code.

--cluster scans a live cluster instead of files (--kubeconfig, --context):
every kind the selected policies match is listed page by page, RBAC objects
included, except the namespaces of --exclude-namespaces. A kind the
credentials may not list is reported as not scanned and the others are
still scanned; the exit code is then 2 unless --allow-partial.

Outputs (-o): table, json, sarif (SARIF 2.1.0), junit (JUnit XML: a
testsuite per control, a testcase per resource), html (one self-contained
page) and policyreport (wgpolicyk8s.io/v1alpha2 PolicyReports and a
ClusterPolicyReport, as YAML).

Exit codes: 0 nothing failed at or above --fail-on (and the compliance score
is not below --compliance-threshold), 1 something did, 2 invalid input
(unreadable manifest, malformed policy, bad flag, no resources at all unless
--allow-empty, an unreachable cluster, or kinds not scanned unless
--allow-partial).`,
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
  helm template ./chart | portcullis scan -

  # the NSA and CIS frameworks of the built-in library, fail under 80%
  portcullis scan ./manifests --framework nsa,cis --compliance-threshold 80

  # the NSA and MITRE frameworks of a Kubescape control library (regolibrary)
  portcullis scan --library ./regolibrary --framework nsa,mitre ./manifests

  # a live cluster, JUnit for CI
  portcullis scan --cluster --context prod --framework cis --exclude-namespaces kube-system -o junit`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.cluster {
				if len(args) > 0 {
					return withCode(ExitInvalid, errors.New("--cluster scans the cluster: give no PATH"))
				}
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.policies, "policy", "p", nil, "policy file or directory (repeatable); default: the built-in control library")
	f.StringArrayVar(&o.sets, "set", nil, fmt.Sprintf("built-in control set to use (repeatable): %s; default %s", strings.Join(controls.Sets(), ", "), strings.Join(controls.DefaultSets(), ", ")))
	f.StringArrayVar(&o.exceptions, "exceptions", nil, "file or directory of PolicyExceptions (kyverno.io/v2, policies.kyverno.io) applied to the policies (repeatable); exempted rules are reported as skipped, naming the exception")
	f.StringArrayVar(&o.registries, "allowed-registry", nil, "approved image prefix for the built-in registry policy, wildcards allowed (repeatable); default gcr.io/* and ghcr.io/org/*")
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a failure has this severity or higher: low, medium, high, critical, or none")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json, sarif (SARIF 2.1.0, for code scanning), junit, html or policyreport")
	f.StringSliceVar(&o.frameworks, "framework", nil, "run the controls of these frameworks (comma-separated or repeated; built-in: nsa, cis; with --library, the library's: nsa, mitre, ...) and show the framework view")
	f.StringSliceVar(&o.controls, "control", nil, "run these controls by ID (comma-separated or repeated, e.g. PC-0001,PSS-B-03, or C-0017 with --library) and show the framework view")
	f.StringSliceVar(&o.excludeNamespaces, "exclude-namespaces", nil, "leave out resources of these namespaces (comma-separated or repeated)")
	f.StringVar(&o.severityThreshold, "severity-threshold", "", "the same as --fail-on (Kubescape's name): exit 1 only for failures at or above this severity")
	f.Float64Var(&o.complianceThreshold, "compliance-threshold", 0, "exit 1 when the scan's compliance score (percent, the framework view's) is below this")
	f.BoolVar(&o.cluster, "cluster", false, "scan the live cluster of the kubeconfig instead of files")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "with --cluster: kubeconfig file (default $KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.StringVar(&o.kubeContext, "context", "", "with --cluster: kubeconfig context (default the current one)")
	f.BoolVar(&o.allowPartial, "allow-partial", false, "with --cluster: report success even when some kinds could not be listed (they are reported as not scanned)")
	f.BoolVar(&o.noColor, "no-color", false, "never colour the table (colours are used only on a terminal, and never with NO_COLOR set or TERM=dumb)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "table: print messages whole, with each finding's policy, rule and path")
	o.width = -1
	f.Var(autoWidth{&o.width}, "width", "table: cut lines to this many columns (0 never cuts); default the terminal's width, or $COLUMNS, else whole lines")
	f.BoolVar(&o.allowEmpty, "allow-empty", false, "report success when the input holds no resources (by default an empty input is an error: an upstream step such as helm template may have failed)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave out paths matching this glob, relative to each directory scanned (repeatable; ** matches any depth; as in .portcullisignore)")
	f.StringArrayVar(&o.crds, "crd", nil, "CustomResourceDefinition file or directory whose schemas validate custom resources (repeatable)")
	f.BoolVar(&o.noSchema, "no-schema", false, "do not validate resources against the schema of their kind; evaluate every document")
	f.StringVar(&o.store, "store", "", "record the scan in a findings store: postgres://... or a SQLite file (the source is named scan:PATHS; scanning the same paths again records what changed)")
	f.StringVar(&o.library, "library", "", "scan with the Kubescape control library in DIR (frameworks/, controls/, rules/; default $"+LibraryEnv+") instead of policies")
	f.StringVar(&o.controlConfig, "control-config", "", "with --library: control configuration inputs (a Kubescape controls-config JSON file) replacing the library's defaults")
	f.BoolVar(&o.all, "all", false, "list passing and skipped results too (table and JSON); by default they are only counted")
	return cmd
}

func runScan(cmd *cobra.Command, args []string, o scanOptions) error {
	if o.severityThreshold != "" {
		if cmd.Flags().Changed("fail-on") && !strings.EqualFold(o.failOn, o.severityThreshold) {
			return withCode(ExitInvalid, errors.New("--severity-threshold and --fail-on are the same setting; give one"))
		}
		o.failOn = o.severityThreshold
	}
	if o.library != "" && (len(o.policies) > 0 || len(o.sets) > 0) {
		return withCode(ExitInvalid, errors.New("--library scans with a control library; it cannot be combined with --policy or --set"))
	}
	failRank, err := report.ParseFailOn(o.failOn)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	switch o.output {
	case "table", "json", "sarif", "junit", "html", "policyreport":
	default:
		return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table, json, sarif, junit, html or policyreport)", o.output))
	}
	if o.complianceThreshold < 0 || o.complianceThreshold > 100 {
		return withCode(ExitInvalid, fmt.Errorf("--compliance-threshold %v: want a percentage from 0 to 100", o.complianceThreshold))
	}
	if !o.cluster && (o.kubeconfig != "" || o.kubeContext != "" || o.allowPartial) {
		return withCode(ExitInvalid, errors.New("--kubeconfig, --context and --allow-partial apply to --cluster"))
	}
	if o.cluster && (len(o.exclude) > 0 || len(o.crds) > 0) {
		return withCode(ExitInvalid, errors.New("--exclude and --crd apply to files; they cannot be combined with --cluster"))
	}
	if dir := libraryDir(o); dir != "" && len(o.policies) == 0 && len(o.sets) == 0 {
		return runLibraryScan(cmd, args, o, dir, failRank)
	} else if o.controlConfig != "" && dir == "" {
		return withCode(ExitInvalid, errors.New("--control-config configures a control library: give --library too"))
	}
	if len(o.policies) > 0 && (len(o.sets) > 0 || len(o.registries) > 0) {
		return withCode(ExitInvalid, errors.New("--set and --allowed-registry apply to the built-in policies; they cannot be combined with --policy"))
	}
	if len(o.policies) > 0 && (len(o.frameworks) > 0 || len(o.controls) > 0) {
		return withCode(ExitInvalid, errors.New("--framework and --control select controls of the built-in library; they cannot be combined with --policy"))
	}
	if len(o.sets) > 0 && (len(o.frameworks) > 0 || len(o.controls) > 0) {
		return withCode(ExitInvalid, errors.New("--set and --framework/--control both select built-in controls; give one"))
	}
	for _, r := range o.registries {
		if r == "" || strings.ContainsAny(r, " |&\t\n") {
			return withCode(ExitInvalid, fmt.Errorf("invalid --allowed-registry %q: give one image prefix such as registry.example.com/*", r))
		}
	}
	set, view, err := loadScanPolicies(o)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	var (
		chunks       files.Chunks
		skippedFiles []manifest.Skipped
		cluster      *clusterScan
	)
	if o.cluster {
		var status func(string, int, int, int)
		var prog *progress
		if errOut := cmd.ErrOrStderr(); isTTY(errOut) {
			prog = newProgress(errOut, nil)
			status = func(kind string, kinds, done, objects int) { prog.Listing(kind, kinds, done, objects) }
		}
		cluster, err = readCluster(cmd.Context(), set, clusterOptions{kubeconfig: o.kubeconfig, context: o.kubeContext,
			excludeNamespaces: o.excludeNamespaces}, status)
		if prog != nil {
			prog.Clear()
		}
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		for _, n := range cluster.notScanned {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: not scanned: %s: %s\n", n.What, n.Reason)
		}
		args = []string{"cluster:" + cluster.name}
	} else {
		chunks, skippedFiles, err = files.ReadTree(args, cmd.InOrStdin(), files.Options{Exclude: o.exclude, SkipCharts: true})
		if err != nil {
			// The errors name the files ("read x.yaml: ..."); no prefix.
			return withCode(ExitInvalid, err)
		}
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
	if cluster != nil {
		stream = files.Documents(cluster.docs)
		if set.UsesCEL() {
			env.Resources, err = files.Resources(cluster.docs)
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("read the cluster's objects: %w", err))
			}
			env.Namespaces = files.Namespaces(cluster.docs)
		}
	} else if set.UsesCEL() {
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
	if view != nil {
		scan.Posture, scan.Frameworks, scan.Controls, scan.Ran = view.catalog, view.frameworks, view.controls, view.ran
	}
	if cluster != nil {
		scan.NotScanned = cluster.notScanned
	}
	excludedNS := map[string]bool{}
	for _, ns := range o.excludeNamespaces {
		excludedNS[ns] = true
	}
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
		if len(excludedNS) > 0 && excludedNS[manifest.MetaString(r.Document.Object, "namespace")] {
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
	return scanVerdict(scan, o, failRank)
}

// scanVerdict is the exit of a scan written out: 2 when part of the
// cluster could not be read (unless --allow-partial), 1 for a failure at
// or above failRank or a compliance score below --compliance-threshold.
func scanVerdict(scan *report.Scan, o scanOptions, failRank int) error {
	// A partial scan is no verdict: exit 2 whatever it found, unless
	// accepted.
	if n := len(scan.NotScanned); n > 0 && !o.allowPartial {
		return withCode(ExitInvalid, fmt.Errorf("%s of the cluster could not be listed (see the warnings; --allow-partial accepts a partial scan)", plural(n, "kind", "kinds")))
	}
	if scan.FailsAt(failRank) {
		return withCode(ExitFindings, fmt.Errorf("policy failures at or above severity %s", o.failOn))
	}
	if o.complianceThreshold > 0 {
		if score := scan.ComplianceScore(); score < o.complianceThreshold {
			return withCode(ExitFindings, fmt.Errorf("compliance score %.1f%% is below --compliance-threshold %v%%", score, o.complianceThreshold))
		}
	}
	return nil
}

// LibraryEnv names the environment variable that gives scan --library.
const LibraryEnv = "PORTCULLIS_LIBRARY"

// libraryDir is --library, else $PORTCULLIS_LIBRARY.
func libraryDir(o scanOptions) string {
	if o.library != "" {
		return o.library
	}
	return os.Getenv(LibraryEnv)
}

// frameworkView is what the framework view of a scan needs: the catalog
// of the library, the frameworks and the controls selected.
type frameworkView struct {
	catalog    posture.Catalog
	frameworks []posture.Framework
	controls   []string
	// ran, when set, makes it the summary of a scan that selected no
	// framework: the controls that ran (report.Scan.Ran).
	ran []string
}

// loadScanPolicies compiles the policies of the scan (see
// loadScanPolicySet) and adds the --exceptions PolicyExceptions to them.
func loadScanPolicies(o scanOptions) (*policy.Set, *frameworkView, error) {
	set, view, err := loadScanPolicySet(o)
	if err != nil || len(o.exceptions) == 0 {
		return set, view, err
	}
	xs, err := policy.LoadExceptions(o.exceptions)
	if err != nil {
		return nil, nil, fmt.Errorf("load exceptions: %w", err)
	}
	if len(xs) == 0 {
		return nil, nil, fmt.Errorf("no PolicyExceptions found in %s", strings.Join(o.exceptions, ", "))
	}
	return set.WithExceptions(append(slices.Clip(set.Exceptions), xs...)), view, nil
}

// loadScanPolicySet compiles the policies of the scan: --policy files, or
// the built-in library (its --set sets, the controls --framework and
// --control select, else its default sets). With --framework or
// --control it also returns the framework view; with the built-in
// library otherwise, the view of its frameworks scored over the controls
// that run (implicitView).
func loadScanPolicySet(o scanOptions) (*policy.Set, *frameworkView, error) {
	if len(o.policies) > 0 {
		set, err := policy.LoadFiles(o.policies, policy.Options{Attestations: attestationCompiler()})
		if err != nil {
			return nil, nil, fmt.Errorf("load policies: %w", err)
		}
		if set.Len() == 0 {
			return nil, nil, fmt.Errorf("no policies found in %s", strings.Join(o.policies, ", "))
		}
		return set, nil, nil
	}
	sets := o.sets
	var view *frameworkView
	if len(o.frameworks) > 0 || len(o.controls) > 0 {
		cat, err := controls.Catalog()
		if err != nil {
			return nil, nil, err
		}
		sel, err := posture.Select(cat, o.frameworks, o.controls)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (the built-in library; see portcullis scan --help)", err)
		}
		view = &frameworkView{catalog: cat, frameworks: sel.Frameworks, controls: sel.Controls}
		sets = controls.Sets()
	} else if len(sets) == 0 {
		sets = controls.DefaultSets()
	}
	set, err := compileBuiltin(sets)
	if err != nil {
		return nil, nil, err
	}
	if view == nil {
		view, err = implicitView(set)
		return set, view, err
	}
	sel := posture.Selection{Controls: view.controls}
	set = set.Select(func(kind, key string) bool {
		switch kind {
		case policy.KindValidatingPolicy:
			p := set.ValidatingPolicy(key)
			return p != nil && sel.Has(p.Control)
		case policy.KindClusterPolicy, policy.KindPolicy:
			p := set.Policy(key)
			return p != nil && sel.Has(p.Control)
		}
		return false
	})
	return set, view, nil
}

// implicitView is the framework view of a built-in scan that selected no
// framework: every built-in framework, scored over its controls among
// those of set (the others are reported as not run), the rest of the
// report as without the view.
func implicitView(set *policy.Set) (*frameworkView, error) {
	cat, err := controls.Catalog()
	if err != nil {
		return nil, err
	}
	ran := []string{}
	for _, p := range set.Policies {
		if p.Control != "" && !slices.Contains(ran, p.Control) {
			ran = append(ran, p.Control)
		}
	}
	for _, p := range set.Validating {
		if p.Control != "" && !slices.Contains(ran, p.Control) {
			ran = append(ran, p.Control)
		}
	}
	slices.Sort(ran)
	return &frameworkView{catalog: cat, frameworks: cat.Frameworks(), ran: ran}, nil
}

// compileBuiltin compiles the built-in policies of sets.
func compileBuiltin(sets []string) (*policy.Set, error) {
	builtin, err := controls.Files(sets...)
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
	case "junit":
		return report.NewJUnitWriter(out, scan)
	case "html":
		return report.NewHTMLWriter(out, scan, report.Build{Name: "portcullis", Version: Build().Version})
	case "policyreport":
		return report.NewPolicyReportWriter(out, scan, o.all)
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
