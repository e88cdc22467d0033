package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// MaxDocumentBytes bounds the size of one YAML or JSON document.
const MaxDocumentBytes = 16 << 20

// Document is one decoded manifest.
type Document struct {
	// Source names the file ("-" for standard input).
	Source string
	// Index is the 1-based position of the document in its file; items
	// of a List share the index of the List.
	Index int
	// Object is the decoded document.
	Object map[string]any
}

// Location describes where the document came from, for error messages.
func (d Document) Location() string {
	return fmt.Sprintf("%s (document %d)", d.Source, d.Index)
}

// Kind returns the document's kind or "".
func (d Document) Kind() string { s, _ := d.Object["kind"].(string); return s }

// APIVersion returns the document's apiVersion or "".
func (d Document) APIVersion() string { s, _ := d.Object["apiVersion"].(string); return s }

// Name returns metadata.name or "".
func (d Document) Name() string { return MetaString(d.Object, "name") }

// MetaString returns metadata.<field> of obj when it is a string.
func MetaString(obj map[string]any, field string) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta[field].(string)
	return s
}

// ParseError reports a document that could not be decoded.
type ParseError struct {
	Source string
	Index  int
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s (document %d): %v", e.Source, e.Index, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Decode splits data into YAML or JSON documents and decodes each. Empty
// documents are skipped; a document that is not a mapping is an error.
// List kinds (kind: List, or any kind ending in "List" with an items
// array) are expanded into their items.
func Decode(source string, data []byte) ([]Document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(data), 64<<10))
	var docs []Document
	var errs []error
	for index := 1; ; index++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &ParseError{Source: source, Index: index, Err: err})
			break
		}
		if len(raw) > MaxDocumentBytes {
			errs = append(errs, &ParseError{Source: source, Index: index, Err: fmt.Errorf("document larger than %d bytes", MaxDocumentBytes)})
			continue
		}
		if isBlank(raw) {
			index--
			continue
		}
		obj, err := decodeOne(raw)
		if err != nil {
			errs = append(errs, &ParseError{Source: source, Index: index, Err: err})
			continue
		}
		if obj == nil {
			index--
			continue
		}
		docs = append(docs, expand(Document{Source: source, Index: index, Object: obj})...)
	}
	return docs, errors.Join(errs...)
}

func isBlank(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		return false
	}
	return true
}

func decodeOne(raw []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("document is a %s, want a mapping with apiVersion and kind", typeName(v))
	}
	return obj, nil
}

func typeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func expand(d Document) []Document {
	kind := d.Kind()
	items, ok := d.Object["items"].([]any)
	if !ok || !strings.HasSuffix(kind, "List") {
		return []Document{d}
	}
	out := make([]Document, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, expand(Document{Source: d.Source, Index: d.Index, Object: m})...)
		}
	}
	return out
}

// ReadPaths reads every manifest under paths: files, directories (walked
// recursively for .yaml, .yml and .json files, skipping hidden
// directories) and "-" for stdin. Files are read in lexical order.
// Parse errors are collected; documents that decoded are still returned.
func ReadPaths(paths []string, stdin io.Reader) ([]Document, error) {
	var docs []Document
	var errs []error
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(io.LimitReader(stdin, 1<<30))
			if err != nil {
				errs = append(errs, fmt.Errorf("read stdin: %w", err))
				continue
			}
			d, err := Decode("-", data)
			docs = append(docs, d...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		files, err := ListFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", f, err))
				continue
			}
			d, err := Decode(f, data)
			docs = append(docs, d...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return docs, errors.Join(errs...)
}

// ListFiles returns path itself when it is a file, or the manifest files
// (.yaml, .yml, .json) below it when it is a directory, sorted.
func ListFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	sort.Strings(files)
	return files, nil
}
