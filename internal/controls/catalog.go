package controls

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/posture"
	"sigs.k8s.io/yaml"
)

// frameworksYAML lists the built-in frameworks and their control IDs.
//
//go:embed frameworks.yaml
var frameworksYAML []byte

// Annotations of the built-in policies read into the catalog.
const (
	annotationControlID   = "portcullis.dev/control-id"
	annotationRemediation = "portcullis.dev/remediation"
	annotationTitle       = "policies.kyverno.io/title"
	annotationSeverity    = "policies.kyverno.io/severity"
	annotationDescription = "policies.kyverno.io/description"
)

var (
	catalogOnce sync.Once
	catalog     *posture.Static
	catalogErr  error
)

// Catalog returns the built-in library as a posture.Catalog: every
// policy's control (ID, title, severity, description, remediation from its
// annotations) and the built-in frameworks ("nsa", "cis"). It is built
// once; the embedded files cannot change.
func Catalog() (*posture.Static, error) {
	catalogOnce.Do(func() { catalog, catalogErr = buildCatalog() })
	return catalog, catalogErr
}

func buildCatalog() (*posture.Static, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	var ctrls []posture.Control
	known := map[string]bool{}
	for _, f := range files {
		var doc struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(f.Data, &doc); err != nil {
			return nil, fmt.Errorf("controls: catalog: %s: %w", f.Path, err)
		}
		a := doc.Metadata.Annotations
		id := a[annotationControlID]
		if id == "" {
			continue
		}
		known[id] = true
		ctrls = append(ctrls, posture.Control{ID: id, Name: a[annotationTitle], Severity: a[annotationSeverity],
			Description: strings.TrimSpace(a[annotationDescription]), Remediation: strings.TrimSpace(a[annotationRemediation])})
	}
	var fws []posture.Framework
	if err := yaml.UnmarshalStrict(frameworksYAML, &fws); err != nil {
		return nil, fmt.Errorf("controls: frameworks.yaml: %w", err)
	}
	for _, fw := range fws {
		for _, id := range fw.Controls {
			if !known[id] {
				return nil, fmt.Errorf("controls: framework %s names control %s, which no built-in policy has", fw.Name, id)
			}
		}
	}
	return posture.NewStatic(fws, ctrls), nil
}
