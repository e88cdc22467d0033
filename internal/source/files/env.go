package files

import (
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
)

// Inputs builds the engine input of each document of a stream.
type Inputs interface {
	// Input returns the input evaluating doc. It is called from several
	// goroutines at once.
	Input(doc manifest.Document) engine.Input
}

// InputsFunc adapts a function to Inputs.
type InputsFunc func(doc manifest.Document) engine.Input

// Input implements Inputs.
func (f InputsFunc) Input(doc manifest.Document) engine.Input { return f(doc) }

var (
	_ Inputs = InputsFunc(nil)
	_ Inputs = Env{}
)

// Env is what every evaluation of a stream shares: the admission context
// an offline document is evaluated in and the stores that answer lookups.
// The zero Env evaluates each document alone, as a CREATE by nobody.
// Documents are evaluated in engine.PhaseScan: mutate rules first, then
// validation of the mutated document, as kyverno apply and test do.
type Env struct {
	// Operation is CREATE (the default when empty), UPDATE (the document
	// is also the old object) or DELETE (the document is only the old
	// object).
	Operation string
	// UserInfo is the requesting user.
	UserInfo engine.UserInfo
	// Values supplies variables from outside (values files, stubbed
	// context entries); nil for none.
	Values engine.Values
	// Resources and Images answer CEL lookups (resource.Get/List, params,
	// image.GetMetadata); nil stores answer "not found".
	Resources cel.ResourceStore
	Images    cel.ImageStore
	// Namespaces are Namespace objects by name: the one named by a
	// document's metadata.namespace is its namespaceObject, and its labels
	// are the namespace labels for namespaceSelector.
	Namespaces map[string]map[string]any
}

// Input implements Inputs.
func (e Env) Input(doc manifest.Document) engine.Input {
	in := engine.Input{Resource: doc.Object, Operation: e.Operation, UserInfo: e.UserInfo,
		Values: e.Values, Resources: e.Resources, Images: e.Images, Phase: engine.PhaseScan}
	switch e.Operation {
	case "UPDATE":
		in.OldResource = doc.Object
	case "DELETE":
		in.OldResource, in.Resource = doc.Object, nil
	}
	if ns := manifest.MetaString(doc.Object, "namespace"); ns != "" {
		in = in.WithNamespace(e.Namespaces[ns])
	}
	return in
}
