//go:build !offline

package cli

import (
	"testing"

	"github.com/portcullis/portcullis/internal/kubescape"
)

func TestFixPatch(t *testing.T) {
	for _, c := range []struct {
		fps  []kubescape.FixPath
		want string
	}{
		{nil, ""},
		{[]kubescape.FixPath{{Path: "spec.containers[0].securityContext.readOnlyRootFilesystem", Value: "true"}},
			`[{"op":"add","path":"/spec/containers/0/securityContext/readOnlyRootFilesystem","value":true}]`},
		{[]kubescape.FixPath{{Path: `metadata.annotations["a.b/c~d"]`, Value: "YOUR_VALUE"}, {Path: "spec.replicas", Value: "2"}},
			`[{"op":"add","path":"/metadata/annotations/a.b~1c~0d","value":"YOUR_VALUE"},{"op":"add","path":"/spec/replicas","value":2}]`},
		{[]kubescape.FixPath{{Path: "spec.x", Value: `{"a":1}`}}, `[{"op":"add","path":"/spec/x","value":"{\"a\":1}"}]`},
	} {
		if got := fixPatch(c.fps); got != c.want {
			t.Errorf("fixPatch(%v) = %s, want %s", c.fps, got, c.want)
		}
	}
}
