package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/sink/report"
	"github.com/portcullis/portcullis/internal/source/files"
	"github.com/spf13/cobra"
)

// LibraryEnv names the environment variable that gives scan --library.
const LibraryEnv = "PORTCULLIS_LIBRARY"

// libraryDir is --library, else $PORTCULLIS_LIBRARY.
func libraryDir(o scanOptions) string {
	if o.library != "" {
		return o.library
	}
	return os.Getenv(LibraryEnv)
}

// loadLibrary loads the Kubescape control library of o.
func loadLibrary(o scanOptions, dir string) (*kubescape.Library, error) {
	var opts []kubescape.Option
	if o.controlConfig != "" {
		opts = append(opts, kubescape.WithControlConfig(o.controlConfig))
	}
	return kubescape.Load(dir, opts...)
}

// runLibraryScan scans the manifests of args with a Kubescape control
// library: every control, each rule on all the objects it matches at once,
// as Kubescape evaluates them. Results are reported per document like the
// other scans; results about no document (subjects built from RBAC
// bindings, controls whose rule needs data a scan does not have) are
// reported under the library.
func runLibraryScan(cmd *cobra.Command, args []string, o scanOptions, dir string) error {
	failRank, err := report.ParseFailOn(o.failOn)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	lib, err := loadLibrary(o, dir)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	chunks, skippedFiles, err := files.ReadTree(args, cmd.InOrStdin(), files.Options{Exclude: o.exclude, SkipCharts: true})
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	notices := newInputNotices(cmd.ErrOrStderr(), skippedFiles)
	docs, err := chunks.DecodeAll()
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("read manifests: %w", err))
	}
	var resources []manifest.Document
	objects := make([]map[string]any, 0, len(docs))
	for _, d := range docs {
		if reason := files.NotResource(d); reason != "" {
			notices.put(files.Outcome{Document: d, Skipped: reason})
			continue
		}
		resources = append(resources, d)
		objects = append(objects, d.Object)
	}
	if len(resources) == 0 && !o.allowEmpty {
		return withCode(ExitInvalid, fmt.Errorf("no resources found in %s (an empty input passes nothing; use --allow-empty if that is expected)", strings.Join(args, ", ")))
	}
	findings, err := lib.Scan(cmd.Context(), objects, kubescape.ScanOptions{})
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	byResource := map[engine.Resource]int{}
	for i, d := range resources {
		id := engine.Resource{APIVersion: d.APIVersion(), Kind: d.Kind(), Namespace: manifest.MetaString(d.Object, "namespace"), Name: d.Name()}
		if _, ok := byResource[id]; !ok {
			byResource[id] = i
		}
	}
	perDoc := make([][]kubescape.Finding, len(resources))
	var other []kubescape.Finding
	for _, f := range findings {
		if i, ok := byResource[f.Resource]; ok {
			perDoc[i] = append(perDoc[i], f)
		} else {
			other = append(other, f)
		}
	}
	scan := report.NewScan(len(lib.Controls), len(lib.Rules), libraryCatalog(lib))
	scan.Skipped = notices.skipped
	w := scanWriter(cmd.OutOrStdout(), scan, o)
	for i, d := range resources {
		rs := &report.Resource{File: d.Source, Line: d.Line, Document: d.Index}
		for _, f := range perDoc[i] {
			rs.Results = append(rs.Results, f.Result)
			line := 0
			if f.Response != nil && f.Response.FirstPath() != "" && d.Raw != nil {
				line = manifest.FieldLine(d.Raw, d.Line, f.Response.FirstPath())
			}
			rs.Lines = append(rs.Lines, line)
		}
		if err := w.Put(rs); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
		}
	}
	if len(other) > 0 {
		rs := &report.Resource{File: lib.Dir}
		for _, f := range other {
			rs.Results = append(rs.Results, f.Result)
		}
		if err := w.Put(rs); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
		}
	}
	if err := w.Close(); err != nil {
		return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
	}
	if scan.FailsAt(failRank) {
		return withCode(ExitFindings, fmt.Errorf("policy failures at or above severity %s", o.failOn))
	}
	return nil
}

// libraryCatalog describes the library's controls for the report.
func libraryCatalog(lib *kubescape.Library) report.Catalog {
	c := report.Catalog{}
	for id, ctl := range lib.Controls {
		longest := 0
		for _, r := range ctl.Rules {
			longest = max(longest, len(r))
		}
		c[report.CatalogKey(engine.KindKubescapeControl, id)] = report.PolicyInfo{ControlID: id, Title: ctl.Name,
			Description: ctl.Description, Severity: ctl.Severity, Rules: len(ctl.Rules), LongestRule: longest}
	}
	return c
}
