package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
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
and Kyverno CLI files) are skipped with a notice on stderr, listed in -o json.

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

Exit codes: 0 nothing failed at or above --fail-on, 1 something did,
2 invalid input (unreadable manifest, malformed policy, bad flag, or no
resources at all unless --allow-empty).`,
		Example: `  # scan a directory with the built-in controls
  portcullis scan ./manifests

  # only the restricted Pod Security Standard, images from our registry
  portcullis scan ./manifests --set pss-restricted --set runbook --allowed-registry 'registry.example.com/*'

  # your own Kyverno policies, JSON output, fail only on high severity
  portcullis scan deploy.yaml --policy ./policies -o json --fail-on high

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
	f.StringArrayVar(&o.sets, "set", nil, fmt.Sprintf("built-in control set to use (repeatable): %s; default all", strings.Join(controls.Sets(), ", ")))
	f.StringArrayVar(&o.registries, "allowed-registry", nil, "approved image prefix for the built-in registry policy, wildcards allowed (repeatable); default gcr.io/* and ghcr.io/org/*")
	f.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a failure has this severity or higher: low, medium, high, critical, or none")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
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
	if o.output != "table" && o.output != "json" {
		return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table or json)", o.output))
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
	recorded, err := openScanStore(cmd.Context(), o.store, args, set)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	defer recorded.close()
	scan := &report.Scan{Policies: set.Len(), Rules: set.NumRules()}
	sink := files.SinkFunc(func(r files.Outcome) {
		if notices.put(r) {
			return
		}
		scan.Resources++
		scan.Add(r.Results, o.all)
		recorded.add(r)
	})
	if w := progressWriter(cmd); w != nil {
		ev.Progress = func(done, total int) {
			if done%1000 == 0 || (done == total && total >= 1000) {
				fmt.Fprintf(w, "\rscanned %d/%d documents", done, total)
			}
			if done == total && total >= 1000 {
				fmt.Fprintln(w)
			}
		}
	}
	if err := ev.Run(cmd.Context(), stream, sink); err != nil {
		if ctxErr := cmd.Context().Err(); ctxErr != nil {
			return withCode(ExitInvalid, fmt.Errorf("scan interrupted: %w", ctxErr))
		}
		return withCode(ExitInvalid, err)
	}
	scan.Skipped = notices.skipped
	if scan.Resources == 0 && !o.allowEmpty {
		skipped := ""
		if n := len(notices.skipped); n > 0 {
			skipped = fmt.Sprintf("; %d %s skipped", n, plural(n, "file", "files"))
		}
		return withCode(ExitInvalid, fmt.Errorf("no resources found in %s (an empty input passes nothing; use --allow-empty if that is expected%s)", strings.Join(args, ", "), skipped))
	}
	if err := recorded.write(cmd.Context()); err != nil {
		return withCode(ExitInvalid, err)
	}
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = scan.WriteJSON(out)
	} else {
		err = scan.WriteTable(out, report.TableOptions{All: o.all, Color: isTerminal(out)})
	}
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	if scan.FailsAt(failRank) {
		return withCode(ExitFindings, fmt.Errorf("policy failures at or above severity %s", o.failOn))
	}
	return nil
}

func loadScanPolicies(o scanOptions) (*policy.Set, error) {
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
		fmt.Fprintf(n.w, "notice: skipped %s: %s\n", o.Document.Location(), o.Skipped)
		return true
	}
	if o.Unvalidated {
		key := o.Document.APIVersion() + " " + o.Document.Kind()
		if !n.kinds[key] {
			n.kinds[key] = true
			fmt.Fprintf(n.w, "notice: no schema for %s (first at %s): evaluated without schema validation (give its CustomResourceDefinition with --crd)\n", key, o.Document.Location())
		}
	}
	return false
}

// progressWriter returns stderr when it is a terminal (progress is shown
// there), nil otherwise.
func progressWriter(cmd *cobra.Command) io.Writer {
	if w := cmd.ErrOrStderr(); isTerminal(w) {
		return w
	}
	return nil
}
