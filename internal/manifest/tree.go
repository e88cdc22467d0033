package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// IgnoreFile is the file, in a scanned directory, listing paths to leave
// out (gitignore-like, see Ignore).
const IgnoreFile = ".portcullisignore"

// ChartTemplateReason is why the templates of a Helm chart are skipped.
const ChartTemplateReason = "Helm chart template: render the chart (helm template CHART | portcullis scan -)"

// Skipped is a file or document left out of a read, with the reason.
type Skipped struct {
	// Path is the file ("-" for standard input).
	Path string `json:"path"`
	// Reason says why.
	Reason string `json:"reason"`
	// Documents counts the documents of Path left out (0: the whole file,
	// unread).
	Documents int `json:"documents,omitempty"`
}

// Ignore is a list of gitignore-like patterns, matched against paths
// relative to a scanned directory (with "/" separators):
//
//   - a pattern without "/" (other than a trailing one) matches the name
//     of a file or directory at any depth ("values.yaml", "*.tpl");
//   - a pattern with "/" is matched against the whole relative path
//     ("charts/*/values.yaml"; a leading "/" only anchors it);
//   - "*", "?" and "[...]" match within one path segment, "**" matches any
//     number of segments ("**/testdata", "examples/**");
//   - a trailing "/" matches directories only;
//   - "!" re-includes what an earlier pattern excluded (not below an
//     excluded directory, which is not walked), and "#" starts a comment.
//
// The last pattern that matches decides. A directory that matches is not
// walked.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	segs    []string // pattern split on "/"
	anchor  bool     // matched against the whole path, not any name
	dirOnly bool
	negate  bool
	text    string
}

// ParseIgnore parses patterns, one per line ("#" comments and blank lines
// are ignored). Each pattern is checked: a malformed one ("[a") is an
// error naming its line.
func ParseIgnore(source string, r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := ig.Add(t); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	return ig, nil
}

// Add appends one pattern (see Ignore).
func (ig *Ignore) Add(pattern string) error {
	p := strings.TrimSpace(pattern)
	r := ignoreRule{text: p}
	if strings.HasPrefix(p, "!") {
		r.negate, p = true, p[1:]
	}
	p = strings.TrimPrefix(filepath.ToSlash(p), "./")
	if strings.HasSuffix(p, "/") {
		r.dirOnly, p = true, strings.TrimRight(p, "/")
	}
	if strings.HasPrefix(p, "/") {
		r.anchor, p = true, strings.TrimLeft(p, "/")
	}
	if p == "" {
		return fmt.Errorf("empty pattern %q", pattern)
	}
	if strings.Contains(p, "/") {
		r.anchor = true
	}
	r.segs = strings.Split(p, "/")
	for _, s := range r.segs {
		if _, err := path.Match(s, ""); err != nil {
			return fmt.Errorf("invalid pattern %q: %w", pattern, err)
		}
	}
	ig.rules = append(ig.rules, r)
	return nil
}

// Len returns the number of patterns.
func (ig *Ignore) Len() int {
	if ig == nil {
		return 0
	}
	return len(ig.rules)
}

// Match reports whether rel (a path relative to the scanned directory,
// "/"-separated) is excluded; isDir says whether it is a directory.
func (ig *Ignore) Match(rel string, isDir bool) bool {
	if ig == nil {
		return false
	}
	rel = strings.Trim(filepath.ToSlash(rel), "/")
	segs := strings.Split(rel, "/")
	excluded := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		var ok bool
		if r.anchor {
			ok = matchSegments(r.segs, segs)
		} else {
			ok = matchSegments(r.segs, segs[len(segs)-1:])
		}
		if ok {
			excluded = !r.negate
		}
	}
	return excluded
}

// matchSegments matches path segments against pattern segments, "**"
// standing for any number of segments.
func matchSegments(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(segs); i++ {
				if matchSegments(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// TreeOptions tune ListTree.
type TreeOptions struct {
	// Exclude are patterns (see Ignore) matched against paths relative to
	// each directory walked; IgnoreFile in that directory adds its own.
	Exclude []string
	// SkipCharts leaves out the templates of Helm charts (the templates/
	// directory beside a Chart.yaml): they are not manifests until
	// rendered.
	SkipCharts bool
}

// ListTree is ListFiles for a scan: below a directory it also leaves out
// what opts.Exclude and the directory's IgnoreFile exclude, and (with
// opts.SkipCharts) the templates of Helm charts, which it reports as
// Skipped. A path given as a file is always read.
func ListTree(root string, opts TreeOptions) ([]string, []Skipped, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", root, pathErr(err))
	}
	if !info.IsDir() {
		return []string{root}, nil, nil
	}
	ig := &Ignore{}
	for _, p := range opts.Exclude {
		if err := ig.Add(p); err != nil {
			return nil, nil, fmt.Errorf("--exclude: %w", err)
		}
	}
	switch f, err := os.Open(filepath.Join(root, IgnoreFile)); {
	case err == nil:
		fig, perr := ParseIgnore(filepath.Join(root, IgnoreFile), f)
		f.Close()
		if perr != nil {
			return nil, nil, perr
		}
		ig.rules = append(ig.rules, fig.rules...)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("read %s: %w", filepath.Join(root, IgnoreFile), pathErr(err))
	}
	var files []string
	var skipped []Skipped
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || ig.Match(rel, true) {
				return filepath.SkipDir
			}
			if opts.SkipCharts && d.Name() == "templates" && isChartDir(filepath.Dir(p)) {
				_ = filepath.WalkDir(p, func(q string, e fs.DirEntry, err error) error {
					if err == nil && !e.IsDir() && isManifestName(q) {
						r, _ := filepath.Rel(root, q)
						if !ig.Match(r, false) {
							skipped = append(skipped, Skipped{Path: q, Reason: ChartTemplateReason})
						}
					}
					return nil
				})
				return filepath.SkipDir
			}
			return nil
		}
		if isManifestName(p) && !ig.Match(rel, false) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk %s: %w", root, err)
	}
	sort.Strings(files)
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].Path < skipped[j].Path })
	return files, skipped, nil
}

func isManifestName(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// isChartDir reports whether dir holds a Helm chart (a Chart.yaml).
func isChartDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

// ReadTree reads every manifest under paths as ReadChunks does, listing
// directories with ListTree (exclusions, ignore files, Helm charts); it
// also returns what it left out.
func ReadTree(paths []string, stdin io.Reader, opts TreeOptions) ([]Chunk, []Skipped, error) {
	var chunks []Chunk
	var skipped []Skipped
	var errs []error
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(io.LimitReader(stdin, 1<<30))
			if err != nil {
				errs = append(errs, fmt.Errorf("read stdin: %w", err))
				continue
			}
			c, err := Split("-", data)
			chunks = append(chunks, c...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		files, sk, err := ListTree(p, opts)
		skipped = append(skipped, sk...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", f, pathErr(err)))
				continue
			}
			c, err := Split(f, data)
			chunks = append(chunks, c...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return chunks, skipped, errors.Join(errs...)
}

// firstBadByte returns the offset of the first byte of data that YAML
// does not accept (invalid UTF-8, or a control character other than tab,
// newline and carriage return), or -1.
func firstBadByte(data []byte) int {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}
