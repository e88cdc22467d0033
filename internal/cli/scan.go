package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/report"
	"github.com/portcullis/portcullis/internal/workpool"
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
}

func newScanCommand() *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Evaluate manifests against policies",
		Long: `Evaluate Kubernetes manifests against policies and report what fails.

PATH is a file, a directory (walked recursively for .yaml, .yml and .json files)
or - for standard input. Files may hold several YAML documents or JSON, and List
kinds are expanded.

Without --policy, the built-in control library is used: Pod Security Standards
baseline (11 rules) and restricted (6 rules), plus three runbook policies
(CPU/memory requests and limits, approved image registries, restrictive security
context). Pod rules also apply to Deployments, DaemonSets, StatefulSets,
ReplicaSets, Jobs and CronJobs (Kyverno autogen).

Exit codes: 0 nothing failed at or above --fail-on, 1 something did,
2 invalid input (unreadable manifest, malformed policy, bad flag).`,
		Example: `  # scan a directory with the built-in controls
  portcullis scan ./manifests

  # only the restricted Pod Security Standard, images from our registry
  portcullis scan ./manifests --set pss-restricted --set runbook --allowed-registry 'registry.example.com/*'

  # your own Kyverno policies, JSON output, fail only on high severity
  portcullis scan deploy.yaml --policy ./policies -o json --fail-on high

  # from a pipeline
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
	chunks, err := manifest.ReadChunks(args, cmd.InOrStdin())
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("read manifests: %w", err))
	}
	var values engine.Values
	if len(o.registries) > 0 {
		v := map[string]any{AllowedRegistriesVariable: strings.Join(o.registries, " | ")}
		values = engine.ValuesFunc(func(string, string, string) map[string]any { return v })
	}
	env := scanEnv{values: values}
	if set.UsesCEL() {
		// CEL policies may look up other resources (resource.Get, params of
		// bindings, namespaceObject): serve them from the scanned manifests.
		if err := env.index(chunks); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("read manifests: %w", err))
		}
	}
	scan, err := scanChunks(cmd.Context(), engine.New(), set, chunks, env, o.all, progressWriter(cmd))
	if err != nil {
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
	files, err := controls.Files(o.sets...)
	if err != nil {
		return nil, err
	}
	var docs []manifest.Document
	for _, f := range files {
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

// progressWriter returns stderr when it is a terminal (progress is shown
// there), nil otherwise.
func progressWriter(cmd *cobra.Command) io.Writer {
	if w := cmd.ErrOrStderr(); isTerminal(w) {
		return w
	}
	return nil
}

// scanChunks decodes and evaluates every document on GOMAXPROCS workers,
// keeping results in document order. Documents are decoded by the worker
// that evaluates them and dropped afterwards, so memory stays bounded by
// the raw manifests plus the findings. Passing and skipped results are
// only counted unless keepAll.
func scanChunks(ctx context.Context, eng *engine.Engine, set *policy.Set, chunks []manifest.Chunk, env scanEnv, keepAll bool, progress io.Writer) (*report.Scan, error) {
	results := make([][]engine.Result, len(chunks))
	counts := make([]passSkip, len(chunks))
	errs := make([]error, len(chunks))
	resources := make([]int, len(chunks))
	var done atomic.Int64
	workpool.Run(len(chunks), 0, func(i int) {
		if ctx.Err() != nil {
			return
		}
		docs, err := chunks[i].Decode()
		chunks[i].Data = nil // decoded: let the raw text go
		if err != nil {
			errs[i] = err
			return
		}
		var rs []engine.Result
		for _, d := range docs {
			if d.Kind() == "" {
				errs[i] = fmt.Errorf("%s: document has no kind", d.Location())
				return
			}
			r, err := eng.Evaluate(ctx, set, env.input(d.Object))
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", d.Location(), err)
				return
			}
			if !keepAll {
				r = findingsOnly(r, &counts[i])
			}
			rs = append(rs, r...)
		}
		results[i], resources[i] = rs, len(docs)
		if n := done.Add(1); progress != nil && n%1000 == 0 {
			fmt.Fprintf(progress, "\rscanned %d/%d documents", n, len(chunks))
		}
	})
	if progress != nil && len(chunks) >= 1000 {
		fmt.Fprintf(progress, "\rscanned %d/%d documents\n", done.Load(), len(chunks))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan interrupted: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	scan := &report.Scan{Policies: set.Len(), Rules: set.NumRules()}
	for i, r := range results {
		scan.Resources += resources[i]
		scan.Add(r, true)
		if c := counts[i]; c.pass+c.skip > 0 {
			if scan.Omitted == nil {
				scan.Omitted = map[engine.Status]int{}
			}
			scan.Omitted[engine.StatusPass] += c.pass
			scan.Omitted[engine.StatusSkip] += c.skip
		}
	}
	return scan, nil
}

type passSkip struct{ pass, skip int }

// findingsOnly drops passing and skipped results, counting them in c.
func findingsOnly(rs []engine.Result, c *passSkip) []engine.Result {
	out := rs[:0]
	for _, r := range rs {
		switch r.Status {
		case engine.StatusPass:
			c.pass++
		case engine.StatusSkip:
			c.skip++
		default:
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// scanEnv is what every evaluation of a scan shares.
type scanEnv struct {
	values     engine.Values
	store      cel.ResourceStore
	namespaces map[string]map[string]any
}

// index decodes every document once to serve CEL lookups and namespaces.
func (e *scanEnv) index(chunks []manifest.Chunk) error {
	docs, err := manifest.DecodeChunks(chunks)
	if err != nil {
		return err
	}
	objs := make([]map[string]any, 0, len(docs))
	e.namespaces = map[string]map[string]any{}
	for _, d := range docs {
		if d.Kind() == "" {
			continue
		}
		objs = append(objs, d.Object)
		if d.Kind() == "Namespace" {
			e.namespaces[d.Name()] = d.Object
		}
	}
	store, err := cel.NewMemoryResources(objs...)
	if err != nil {
		return err
	}
	e.store = store
	return nil
}

func (e scanEnv) input(obj map[string]any) engine.Input {
	in := engine.Input{Resource: obj, Values: e.values}
	if e.store != nil {
		in.Resources = e.store
	}
	return in.WithNamespace(e.namespaces[manifest.MetaString(obj, "namespace")])
}
