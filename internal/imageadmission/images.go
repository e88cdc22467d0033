package imageadmission

import (
	"errors"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/podspec"
)

// HasPodSpec reports whether objects of kind carry a pod spec whose images
// are checked.
func HasPodSpec(kind string) bool {
	_, ok := podspec.Path(kind)
	return ok
}

// Image is one container image of an object.
type Image struct {
	// Ref is the image reference as written.
	Ref string
	// Pointer is the JSON pointer of the image field
	// ("/spec/containers/0/image"), for patches.
	Pointer string
	// Field is the same location in Kubernetes field notation
	// ("spec.containers[0].image"), for messages.
	Field string
}

// PodSpec returns the pod spec of obj (of kind) and the path to it, or
// nil when the kind has none or the object does not have one.
func PodSpec(kind string, obj map[string]any) (map[string]any, []string) {
	return podspec.Of(kind, obj)
}

// Images lists the container images of obj (a Pod or a workload with a
// pod template). A container list that is not a list, a container that is
// not an object, or an image that is not a string is an error: the object
// is malformed and must not slip past verification.
func Images(kind string, obj map[string]any) ([]Image, error) {
	spec, path := PodSpec(kind, obj)
	if spec == nil {
		return nil, nil
	}
	containers, walkErr := podspec.Containers(spec, path)
	var out []Image
	for _, c := range containers {
		cm, ok := c.Object()
		if !ok {
			return nil, fmt.Errorf("%s is not an object", c.Field())
		}
		img, present := cm["image"]
		if !present {
			continue // the API server refuses it for pods; templates may omit it
		}
		ref, ok := img.(string)
		if !ok {
			return nil, fmt.Errorf("%s.image is not a string", c.Field())
		}
		if ref == "" {
			continue
		}
		out = append(out, Image{Ref: ref, Pointer: c.Pointer() + "/image", Field: c.Field() + ".image"})
	}
	var fe *podspec.FieldError
	if errors.As(walkErr, &fe) {
		return nil, fmt.Errorf("%s is not a list", strings.Join(fe.Path, "."))
	}
	if walkErr != nil {
		return nil, walkErr
	}
	return out, nil
}
