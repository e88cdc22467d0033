//go:build !offline

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/execpages"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/posture"
	"github.com/portcullis/portcullis/internal/sink/report"
	"github.com/portcullis/portcullis/internal/source/files"
	"github.com/portcullis/portcullis/internal/workpool"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// loadLibrary loads the Kubescape control library of o; its rules are
// compiled by runLibraryScan once the selection is known. With --cluster
// the cosign builtins of its rules ask the images' registries (anonymous,
// or with the credentials of the Docker configuration, as cosign does);
// offline they are not answered and those rules are skipped.
func loadLibrary(o scanOptions, dir string) (*kubescape.Library, error) {
	opts := []kubescape.Option{kubescape.WithDeferredCompile()}
	if o.controlConfig != "" {
		opts = append(opts, kubescape.WithControlConfig(o.controlConfig))
	}
	if o.cluster {
		v := imageverify.New(imageverify.Options{Keychain: authn.DefaultKeychain})
		opts = append(opts, kubescape.WithImageSignatures(kubescape.RegistrySignatures{Verifier: v}))
	}
	return kubescape.Load(dir, opts...)
}

// runLibraryScan scans the manifests of args (or the cluster, with
// --cluster) with a Kubescape control library: the controls --framework
// and --control select (every control without them), each rule on all
// the objects it matches at once, as Kubescape evaluates them. The
// findings go through the same report writers as the policy scans, with
// the framework view when controls were selected. Results are reported
// per document; results about no document (subjects built from RBAC
// bindings, controls whose rule needs data a scan does not have) are
// reported under the library.
func runLibraryScan(cmd *cobra.Command, args []string, o scanOptions, dir string, failRank int) error {
	if len(o.exceptions) > 0 || len(o.registries) > 0 || o.store != "" {
		return withCode(ExitInvalid, errors.New("--exceptions, --allowed-registry and --store apply to policies; they cannot be combined with --library"))
	}
	lib, err := loadLibrary(o, dir)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	cat := LibraryCatalog(lib)
	var view *frameworkView
	var selected []string
	if len(o.frameworks) > 0 || len(o.controls) > 0 {
		sel, err := posture.Select(cat, o.frameworks, o.controls)
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("%w (the library %s)", err, lib.Dir))
		}
		// A framework may list controls the library does not have: they
		// cannot run.
		for _, id := range sel.Controls {
			if _, ok := lib.Controls[id]; ok {
				selected = append(selected, id)
			}
		}
		for i, f := range sel.Frameworks {
			sel.Frameworks[i].Controls = slices.DeleteFunc(slices.Clone(f.Controls), func(id string) bool { return lib.Controls[id] == nil })
		}
		view = &frameworkView{catalog: cat, frameworks: sel.Frameworks, controls: selected}
		if len(selected) == 0 {
			return withCode(ExitInvalid, fmt.Errorf("the library %s has none of the selected controls", lib.Dir))
		}
	}
	// Only the selected controls' rules are compiled (every rule without
	// a selection); a rule that does not compile is an invalid library.
	toCompile := lib.RulesOf(lib.ControlIDs()...)
	if selected != nil {
		toCompile = lib.RulesOf(selected...)
	}
	if err := lib.Compile(toCompile...); err != nil {
		return withCode(ExitInvalid, fmt.Errorf("load library %s: %w", lib.Dir, err))
	}
	var (
		docs         []manifest.Document
		compact      []manifest.Compact    // per document of docs, nil when kept whole
		lineIndexes  []*manifest.LineIndex // per document of docs, nil when the text must be parsed for lines
		skippedFiles []manifest.Skipped
		cluster      *clusterScan
	)
	if o.cluster {
		cluster, err = readLibraryCluster(cmd, lib, selected, o)
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		docs = cluster.docs
		args = []string{"cluster:" + cluster.name}
	} else {
		var chunks files.Chunks
		chunks, skippedFiles, err = files.ReadTree(args, cmd.InOrStdin(), files.Options{Exclude: o.exclude, SkipCharts: true})
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		stop := holdDecodeMemory(cmd.Context())
		docs, compact, lineIndexes, err = decodeLean(chunks)
		stop()
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("read manifests: %w", err))
		}
	}
	notices := newInputNotices(cmd.ErrOrStderr(), skippedFiles)
	excludedNS := map[string]bool{}
	for _, ns := range o.excludeNamespaces {
		excludedNS[ns] = true
	}
	// The scan is given each document's identity and decodes its
	// compact form when a rule needs the object, so that only the
	// namespaces being evaluated are held decoded; objects without one
	// (List items, cluster objects) are kept whole until the scan is done
	// with them.
	var resources []manifest.Document
	objects := make([]map[string]any, 0, len(docs))
	var (
		kept     []map[string]any
		compacts []manifest.Compact
		located  []*manifest.LineIndex // per resource, as lineIndexes
	)
	for i, d := range docs {
		if reason := files.NotResource(d); reason != "" {
			notices.put(files.Outcome{Document: d, Skipped: reason})
			continue
		}
		if excludedNS[manifest.MetaString(d.Object, "namespace")] ||
			(d.Kind() == "Namespace" && excludedNS[d.Name()]) {
			continue
		}
		d = leanDocument(d)
		id := manifest.Identity(d.Object)
		var c manifest.Compact
		if compact != nil {
			c = compact[i]
		}
		if c != nil {
			objects, kept = append(objects, id), append(kept, nil)
		} else {
			objects, kept = append(objects, d.Object), append(kept, d.Object)
		}
		compacts = append(compacts, c)
		var li *manifest.LineIndex
		if lineIndexes != nil {
			li = lineIndexes[i]
		}
		located = append(located, li)
		if li != nil && o.output != "sarif" {
			// Located by its index: only SARIF's fixes read the text.
			d.Raw = nil
		}
		d.Object = id
		resources = append(resources, d)
	}
	docs, compact, lineIndexes = nil, nil, nil
	if cluster != nil {
		cluster.docs = nil
	}
	if len(resources) == 0 && !o.allowEmpty {
		return withCode(ExitInvalid, fmt.Errorf("no resources found in %s (an empty input passes nothing; use --allow-empty if that is expected)", strings.Join(args, ", ")))
	}
	// The scan owns the objects and frees them namespace by namespace;
	// the report needs only each document's identity (kept in resources)
	// and text.
	load := func(i int) (map[string]any, error) { // called once per object
		if o := kept[i]; o != nil {
			kept[i] = nil
			return o, nil
		}
		c := compacts[i]
		compacts[i] = nil
		return c.Object()
	}
	// The scan builds most objects' Rego values from their compact
	// JSON directly, and decodes them (load) only for the rules that
	// read them decoded.
	loadJSON := func(i int) []byte { // called at most once per object
		c := compacts[i]
		compacts[i] = nil
		return c
	}
	// What start-up, loading the library and decoding touched of the
	// executable is not needed again (see execpages): out of the resident
	// set before the scan, the phase that holds the most memory.
	_, _ = execpages.Release()
	defer holdScanMemory(cmd.Context())() // until the report is written
	findings, err := lib.Scan(cmd.Context(), objects, kubescape.ScanOptions{Controls: selected, ReleaseObjects: true, Load: load, LoadJSON: loadJSON})
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
	// The findings of each document, as indexes into findings (copies
	// of ~100,000 findings would double what the report phase holds).
	perDoc := make([][]int32, len(resources))
	var other []int32
	for n, f := range findings {
		if i, ok := byResource[f.Resource]; ok {
			perDoc[i] = append(perDoc[i], int32(n))
		} else {
			other = append(other, int32(n))
		}
	}
	nControls, nRules := len(lib.Controls), len(lib.Rules)
	if selected != nil {
		nControls, nRules = len(selected), libraryRules(lib, selected)
	}
	scan := report.NewScan(nControls, nRules, libraryReportCatalog(lib))
	if view != nil {
		scan.Posture, scan.Frameworks, scan.Controls = view.catalog, view.frameworks, view.controls
	}
	if cluster != nil {
		scan.NotScanned = cluster.notScanned
	}
	scan.Skipped = notices.skipped
	// Each failure's line and fix patch, found on every core, document by
	// document (with the line index decoding kept, else the text of a
	// document with failures parsed once); the report is then written in
	// order.
	lines := make([]int32, len(findings))
	patches := make([]string, len(findings))
	workpool.Run(len(resources), 0, func(i int) {
		d := resources[i]
		var ls *manifest.Lines // the document's text parsed once, on its first failure
		for _, n := range perDoc[i] {
			f := &findings[n]
			if f.Response == nil {
				continue
			}
			patches[n] = fixPatch(f.Response.FixPaths)
			if li := located[i]; li != nil && f.Response.FirstPath() != "" {
				lines[n] = int32(li.FieldLine(f.Response.FirstPath()))
			} else if f.Response.FirstPath() != "" && d.Raw != nil {
				if ls == nil {
					ls = manifest.NewLines(d.Raw, d.Line)
				}
				lines[n] = int32(ls.FieldLines([]string{f.Response.FirstPath()})[0])
			}
		}
	})
	w := scanWriter(cmd.OutOrStdout(), scan, o)
	for i, d := range resources {
		rs := &report.Resource{File: d.Source, Line: d.Line, Document: d.Index}
		for _, n := range perDoc[i] {
			res := findings[n].Result
			if findings[n].Response != nil {
				res.JSONPatch, patches[n] = patches[n], ""
			}
			rs.Results = append(rs.Results, res)
			rs.Lines = append(rs.Lines, int(lines[n]))
			if o.output == "sarif" { // only SARIF writes fixes; each parses the text again
				rs.Fixes = append(rs.Fixes, fixEdits(d, res))
			}
		}
		if err := w.Put(rs); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
		}
	}
	if len(other) > 0 {
		rs := &report.Resource{File: lib.Dir}
		for _, n := range other {
			rs.Results = append(rs.Results, findings[n].Result)
		}
		if err := w.Put(rs); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
		}
	}
	if err := w.Close(); err != nil {
		return withCode(ExitInvalid, fmt.Errorf("write the report: %w", err))
	}
	return scanVerdict(scan, o, failRank)
}

// leanDocument is d without the parsed tree decoding kept: the report
// locates findings with the document's text (Raw, Item), and the trees of
// every document are larger than the objects.
func leanDocument(d manifest.Document) manifest.Document {
	lean := d.WithoutText()
	lean.Raw, lean.Item = d.Raw, d.Item
	return lean
}

// decodeLean decodes chunks as DecodeAll does (in parallel, in order,
// the documents that decode returned with the errors joined), each
// document made lean as it is decoded (manifest.Chunk.DecodeLean), so
// that neither the parsed trees nor the decoded objects of every
// document are held at once. A document with text of its own keeps only
// its identity (manifest.Identity) and its object's compact form
// (compact, the same index as the document): the scan decodes that when
// a rule needs the object, and the YAML is parsed once. compact is nil
// for a document kept whole (List items, and objects manifest.NewCompact
// cannot give back exactly). lines holds, per document, its line index
// (nil when decoding kept no tree: the report then parses the document's
// text for its lines).
func decodeLean(chunks files.Chunks) (docs []manifest.Document, compact []manifest.Compact, lines []*manifest.LineIndex, err error) {
	out := make([][]manifest.Lean, len(chunks))
	errs := make([]error, len(chunks))
	workpool.Run(len(chunks), 0, func(i int) {
		out[i], errs[i] = chunks[i].DecodeLean()
	})
	n := 0
	for _, ls := range out {
		n += len(ls)
	}
	docs = make([]manifest.Document, 0, n)
	compact = make([]manifest.Compact, 0, n)
	lines = make([]*manifest.LineIndex, 0, n)
	for _, ls := range out {
		for _, l := range ls {
			docs, compact, lines = append(docs, l.Document), append(compact, l.Compact), append(lines, l.Lines)
		}
	}
	return docs, compact, lines, errors.Join(errs...)
}

// readLibraryCluster lists the objects of the kinds the rules of the
// selected controls (every control when none is selected) match, RBAC
// objects included.
func readLibraryCluster(cmd *cobra.Command, lib *kubescape.Library, selected []string, o scanOptions) (*clusterScan, error) {
	var status func(string, int, int, int)
	var prog *progress
	if errOut := cmd.ErrOrStderr(); isTTY(errOut) {
		prog = newProgress(errOut, nil)
		status = func(kind string, kinds, done, objects int) { prog.Listing(kind, kinds, done, objects) }
	}
	cluster, err := readCluster(cmd.Context(), nil, clusterOptions{kubeconfig: o.kubeconfig, context: o.kubeContext,
		excludeNamespaces: o.excludeNamespaces, extraKinds: LibraryKinds(lib, selected)}, status)
	if prog != nil {
		prog.Clear()
	}
	if err != nil {
		return nil, err
	}
	for _, n := range cluster.notScanned {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: not scanned: %s: %s\n", n.What, n.Reason)
	}
	return cluster, nil
}

// LibraryKinds returns the Kubernetes kinds the rules of the controls ids
// (every control when ids is empty) match, in a stable order: each
// group, version and kind a rule's match (and dynamicMatch) lists; a
// wildcard group or version ("*", as RBAC rules write them) stands for
// the built-in kinds of that name (standardKinds). The data of the host
// sensor and cloud providers, which no API server serves, is left out.
func LibraryKinds(lib *kubescape.Library, ids []string) []schema.GroupVersionKind {
	if len(ids) == 0 {
		ids = lib.ControlIDs()
	}
	var out []schema.GroupVersionKind
	seen := map[schema.GroupVersionKind]bool{}
	add := func(gvk schema.GroupVersionKind) {
		if !seen[gvk] {
			seen[gvk] = true
			out = append(out, gvk)
		}
	}
	rules := map[string]bool{}
	for _, id := range ids {
		c := lib.Controls[id]
		if c == nil {
			continue
		}
		for _, rn := range c.Rules {
			r := lib.Rules[rn]
			if r == nil || rules[rn] {
				continue
			}
			rules[rn] = true
			for _, m := range append(slices.Clone(r.Metadata.Match), r.Metadata.DynamicMatch...) {
				for _, g := range m.APIGroups {
					if strings.Contains(g, "kubescape") || strings.Contains(g, "cloud") {
						continue
					}
					for _, v := range m.APIVersions {
						for _, k := range m.Resources {
							if k == "" || k == "*" {
								continue
							}
							if g != "*" && v != "*" {
								add(schema.GroupVersionKind{Group: g, Version: v, Kind: k})
								continue
							}
							for _, std := range standardKinds {
								if std.Kind == k && (g == "*" || g == std.Group) && (v == "*" || v == std.Version) {
									add(std)
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// standardKinds are the built-in kinds a wildcard of a library rule's
// match stands for.
var standardKinds = append([]schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Version: "v1", Kind: "ReplicationController"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "Node"},
	{Version: "v1", Kind: "PersistentVolume"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
}, rbacKinds...)

// LibraryCatalog is the posture catalog of a Kubescape control library:
// its frameworks (their controls in the library's order) and controls
// with name, severity, description and remediation.
func LibraryCatalog(lib *kubescape.Library) *posture.Static {
	fws := make([]posture.Framework, 0, len(lib.Frameworks))
	for _, f := range lib.Frameworks {
		fws = append(fws, posture.Framework{Name: f.Name, Description: f.Description, Controls: slices.Clone(f.Controls)})
	}
	ctrls := make([]posture.Control, 0, len(lib.Controls))
	for _, c := range lib.Controls {
		ctrls = append(ctrls, posture.Control{ID: c.ID, Name: c.Name, Severity: c.Severity,
			Description: c.Description, Remediation: c.Remediation})
	}
	return posture.NewStatic(fws, ctrls)
}

// fixEdits returns the edits of d's text that apply res's fix (its
// JSONPatch) for a failure, nil when there is none or it cannot be
// written as edits (manifest.PatchEdits).
func fixEdits(d manifest.Document, res engine.Result) []manifest.Edit {
	if res.JSONPatch == "" || res.Status != engine.StatusFail {
		return nil
	}
	raw, line, prefix := d.Raw, d.Line, ""
	if raw == nil && d.Item != nil {
		raw, line, prefix = d.Item.Raw, d.Item.Line, strings.TrimSuffix(d.Item.Path, "/")
	}
	if raw == nil {
		return nil
	}
	edits, err := manifest.PatchEdits(raw, line, prefix, res.JSONPatch)
	if err != nil {
		return nil
	}
	return edits
}

// fixPatch turns a rule response's fix paths into an RFC 6902 JSON patch
// ("add" each path with its value; a value that reads as a JSON scalar,
// such as true or 1000, is that scalar, any other a string), "" when
// there are none.
func fixPatch(fps []kubescape.FixPath) string {
	if len(fps) == 0 {
		return ""
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	ops := make([]op, 0, len(fps))
	for _, fp := range fps {
		var v any
		if err := json.Unmarshal([]byte(fp.Value), &v); err != nil {
			v = fp.Value
		} else if _, composite := v.(map[string]any); composite {
			v = fp.Value
		} else if _, composite := v.([]any); composite {
			v = fp.Value
		}
		ops = append(ops, op{Op: "add", Path: jsonPointer(fp.Path), Value: v})
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return ""
	}
	return string(b)
}

// jsonPointer turns a path as Kubescape rules write it
// ("spec.containers[0].securityContext.privileged",
// metadata.annotations["a.b/c"]) into an RFC 6901 JSON pointer
// ("/spec/containers/0/securityContext/privileged",
// "/metadata/annotations/a.b~1c").
func jsonPointer(path string) string {
	var segs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '.':
			flush()
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				cur.WriteString(path[i:])
				i = len(path)
				continue
			}
			flush()
			key := path[i+1 : i+end]
			if uq, err := strconv.Unquote(key); err == nil {
				key = uq
			}
			segs = append(segs, key)
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if !strings.ContainsAny(s, "~/") {
			b.WriteString(s)
			continue
		}
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// libraryRules counts the distinct rules of the controls ids.
func libraryRules(lib *kubescape.Library, ids []string) int {
	rules := map[string]bool{}
	for _, id := range ids {
		if c := lib.Controls[id]; c != nil {
			for _, r := range c.Rules {
				rules[r] = true
			}
		}
	}
	return len(rules)
}

// libraryReportCatalog describes the library's controls for the report.
func libraryReportCatalog(lib *kubescape.Library) report.Catalog {
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
