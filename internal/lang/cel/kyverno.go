package cel

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	apiservercel "k8s.io/apiserver/pkg/cel"
)

// Kyverno's CEL libraries (policies.kyverno.io ValidatingPolicy):
//
//	resource.Get(apiVersion, resource, namespace, name) dyn
//	resource.List(apiVersion, resource, namespace) dyn      // {"items": [...]}
//	image.GetMetadata(ref) dyn                               // image data
//	globalContext.Get(name[, projection]) dyn
//	parseServiceAccount(username) user.ServiceAccount        // .Name, .Namespace
//	time.now() timestamp, time.truncate(timestamp, duration) timestamp, time.toCron(timestamp) string
//	parseImageReference(ref) / image(ref), isImage(ref), and on the result
//	  containsDigest(), registry(), repository(), identifier(),
//	  identifierWithSeparator(), tag(), digest()
//
// `resource`, `image` and `globalContext` are variables whose values carry
// the store calls of one evaluation, bound to that evaluation's
// context.Context (CEL function bindings receive no context).

var (
	resourceContextType = cel.OpaqueType("kyverno.resource.Context")
	imageDataType       = cel.OpaqueType("kyverno.imagedata.Context")
	globalContextType   = cel.OpaqueType("kyverno.globalcontext.Context")
)

// serviceAccountDeclType is the result type of parseServiceAccount.
var serviceAccountDeclType = apiservercel.NewObjectType("user.ServiceAccount", map[string]*apiservercel.DeclField{
	"Name":      apiservercel.NewDeclField("Name", apiservercel.StringType, false, nil, nil),
	"Namespace": apiservercel.NewDeclField("Namespace", apiservercel.StringType, false, nil, nil),
})

// receiver is the value of the `resource`, `image` and `globalContext`
// variables. It is only usable as the receiver of its library functions.
// Its calls are the stores' methods bound to one evaluation's context
// (see bindReceivers); a nil call means no store is configured.
type receiver struct {
	typ    *types.Type
	get    func(apiVersion, resource, namespace, name string) (map[string]any, error)
	list   func(apiVersion, resource, namespace string) ([]map[string]any, error)
	meta   func(image string) (map[string]any, error)
	global func(name, projection string) (any, error)
}

// bindReceivers returns the `resource`, `image` and `globalContext`
// values of one evaluation: the stores of in, called with ctx.
func bindReceivers(ctx context.Context, in *Input) (resource, image, global *receiver) {
	resource = &receiver{typ: resourceContextType}
	if rs := in.Resources; rs != nil {
		resource.get = func(apiVersion, res, ns, name string) (map[string]any, error) {
			return rs.Get(ctx, apiVersion, res, ns, name)
		}
		resource.list = func(apiVersion, res, ns string) ([]map[string]any, error) {
			return rs.List(ctx, apiVersion, res, ns)
		}
	}
	image = &receiver{typ: imageDataType}
	if is := in.Images; is != nil {
		image.meta = func(ref string) (map[string]any, error) { return is.GetMetadata(ctx, ref) }
	}
	global = &receiver{typ: globalContextType}
	if gs := in.GlobalContext; gs != nil {
		global.global = func(name, projection string) (any, error) { return gs.Get(ctx, name, projection) }
	}
	return resource, image, global
}

func (r *receiver) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("disallowed conversion from %q to %v", r.typ.TypeName(), t)
}
func (r *receiver) ConvertToType(t ref.Type) ref.Val {
	if t.TypeName() == r.typ.TypeName() {
		return r
	}
	return types.NewErr("disallowed conversion from %q to %q", r.typ.TypeName(), t.TypeName())
}
func (r *receiver) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(r)) }
func (r *receiver) Type() ref.Type              { return r.typ }
func (r *receiver) Value() any                  { return r }

func stringArgs(args []ref.Val, from int) ([]string, ref.Val) {
	out := make([]string, 0, len(args)-from)
	for _, a := range args[from:] {
		s, ok := a.(types.String)
		if !ok {
			return nil, types.MaybeNoSuchOverloadErr(a)
		}
		out = append(out, string(s))
	}
	return out, nil
}

func resourceGet(args ...ref.Val) ref.Val {
	r, ok := args[0].(*receiver)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	s, errVal := stringArgs(args, 1)
	if errVal != nil {
		return errVal
	}
	if r.get == nil {
		return types.NewErr("failed to get resource: no resource store is configured")
	}
	obj, err := r.get(s[0], s[1], s[2], s[3])
	if err != nil {
		return types.NewErr("failed to get resource: %v", err)
	}
	return adapter.NativeToValue(obj)
}

func resourceList(args ...ref.Val) ref.Val {
	r, ok := args[0].(*receiver)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	s, errVal := stringArgs(args, 1)
	if errVal != nil {
		return errVal
	}
	if r.list == nil {
		return types.NewErr("failed to list resource: no resource store is configured")
	}
	items, err := r.list(s[0], s[1], s[2])
	if err != nil {
		return types.NewErr("failed to list resource: %v", err)
	}
	list := make([]any, len(items))
	for i := range items {
		list[i] = items[i]
	}
	return adapter.NativeToValue(map[string]any{"items": list})
}

func imageGetMetadata(recv, image ref.Val) ref.Val {
	r, ok := recv.(*receiver)
	if !ok {
		return types.MaybeNoSuchOverloadErr(recv)
	}
	s, ok := image.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(image)
	}
	if r.meta == nil {
		return types.NewErr("failed to get image data: no image store is configured")
	}
	data, err := r.meta(string(s))
	if err != nil {
		return types.NewErr("failed to get image data: %v", err)
	}
	return adapter.NativeToValue(data)
}

func globalContextGet(args ...ref.Val) ref.Val {
	r, ok := args[0].(*receiver)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	s, errVal := stringArgs(args, 1)
	if errVal != nil {
		return errVal
	}
	projection := ""
	if len(s) > 1 {
		projection = s[1]
	}
	if r.global == nil {
		return types.NewErr("failed to get global context entry %q: no global context store is configured", s[0])
	}
	v, err := r.global(s[0], projection)
	if err != nil {
		return types.NewErr("failed to get global context entry %q: %v", s[0], err)
	}
	return adapter.NativeToValue(v)
}

const serviceAccountPrefix = "system:serviceaccount:"

func parseServiceAccount(arg ref.Val) ref.Val {
	s, ok := arg.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	sa := map[string]any{"Name": "", "Namespace": ""}
	if rest, ok := strings.CutPrefix(string(s), serviceAccountPrefix); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok {
			sa["Namespace"], sa["Name"] = ns, name
		}
	}
	return adapter.NativeToValue(sa)
}

func toTime(v ref.Val) (time.Time, bool) {
	ts, ok := v.(types.Timestamp)
	return ts.Time, ok
}

// kyvernoLibrary returns the declarations of Kyverno's CEL functions. now
// is the clock used by time.now().
func kyvernoLibrary(now func() time.Time) []cel.EnvOption {
	str := cel.StringType
	opts := []cel.EnvOption{
		cel.Variable("resource", resourceContextType),
		cel.Variable("image", imageDataType),
		cel.Variable("globalContext", globalContextType),
		cel.Function("Get",
			cel.MemberOverload("resource_get_string_string_string_string",
				[]*cel.Type{resourceContextType, str, str, str, str}, cel.DynType, cel.FunctionBinding(resourceGet)),
			cel.MemberOverload("globalcontext_get_string_string",
				[]*cel.Type{globalContextType, str, str}, cel.DynType, cel.FunctionBinding(globalContextGet)),
			cel.MemberOverload("globalcontext_get_string",
				[]*cel.Type{globalContextType, str}, cel.DynType, cel.FunctionBinding(globalContextGet)),
		),
		cel.Function("List",
			cel.MemberOverload("resource_list_string_string_string",
				[]*cel.Type{resourceContextType, str, str, str}, cel.DynType, cel.FunctionBinding(resourceList)),
		),
		cel.Function("GetMetadata",
			cel.MemberOverload("imagedata_get_string",
				[]*cel.Type{imageDataType, str}, cel.DynType, cel.BinaryBinding(imageGetMetadata)),
		),
		cel.Function("parseServiceAccount",
			cel.Overload("parse_service_account_string",
				[]*cel.Type{str}, serviceAccountDeclType.CelType(), cel.UnaryBinding(parseServiceAccount)),
		),
		cel.Function("time.now",
			cel.Overload("time_now", []*cel.Type{}, cel.TimestampType, cel.FunctionBinding(func(...ref.Val) ref.Val {
				return types.Timestamp{Time: now()}
			})),
		),
		cel.Function("time.truncate",
			cel.Overload("time_truncate", []*cel.Type{cel.TimestampType, cel.DurationType}, cel.TimestampType,
				cel.BinaryBinding(func(a, b ref.Val) ref.Val {
					ts, ok := toTime(a)
					d, ok2 := b.(types.Duration)
					if !ok || !ok2 {
						return types.MaybeNoSuchOverloadErr(a)
					}
					return types.Timestamp{Time: ts.Truncate(d.Duration)}
				})),
		),
		cel.Function("time.toCron",
			cel.Overload("time_to_cron", []*cel.Type{cel.TimestampType}, str,
				cel.UnaryBinding(func(a ref.Val) ref.Val {
					ts, ok := toTime(a)
					if !ok {
						return types.MaybeNoSuchOverloadErr(a)
					}
					return types.String(strings.Join([]string{
						strconv.Itoa(ts.Minute()), strconv.Itoa(ts.Hour()), strconv.Itoa(ts.Day()),
						strconv.Itoa(int(ts.Month())), strconv.Itoa(int(ts.Weekday())),
					}, " "))
				})),
		),
	}
	return append(opts, imageLibrary()...)
}
