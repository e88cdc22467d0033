package admission

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestAuditAnnotationKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 80) + "/key"
	d := engine.Decision{AuditAnnotations: map[string]string{
		engine.ValidationFailureAnnotation: "[]",
		"replicas/count":                   "5",
		long:                               "x",
	}}
	got := auditAnnotations(&d)
	if got["validation_failure"] != "[]" || got["replicas_count"] != "5" || len(got) != 3 {
		t.Fatalf("auditAnnotations = %v", got)
	}
	for k := range got {
		// The API server records "<webhook name>/<key>": it must be a
		// qualified name with exactly one "/".
		if msgs := validation.IsQualifiedName("validate.portcullis.dev/" + k); len(msgs) != 0 {
			t.Errorf("key %q would be dropped by the API server: %v", k, msgs)
		}
	}
	if auditAnnotations(&engine.Decision{}) != nil {
		t.Error("no annotations must give nil")
	}
}
