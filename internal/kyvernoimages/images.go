package kyvernoimages

import (
	"strings"

	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/wildcard"
)

// image is one container image of a resource.
type image struct {
	// name is the image as Kyverno prints it: registry/path:tag, or
	// registry/path@digest when it has a digest, with the path as written
	// (no "library/").
	name   string
	digest string
	// pointer is the JSON pointer of the image field.
	pointer string
}

// withDigest returns the image as Kyverno writes it after mutateDigest:
// its name (with the tag) followed by @digest.
func (im image) withDigest(d string) string { return im.name + "@" + d }

// resourceImages returns the images of a Pod, pod controller or CronJob as
// Kyverno's `images` variable lists them, in container-list order (nil for
// other kinds).
func resourceImages(resource map[string]any) ([]image, error) {
	images, err := variables.Images(resource)
	if err != nil {
		return nil, err
	}
	out := make([]image, 0, len(images))
	for _, im := range images {
		// referenceWithTag keeps the path as written ("docker.io/nginx:x").
		base := strings.TrimSuffix(im.Info.ReferenceWithTag, ":"+im.Info.Tag)
		name := base + ":" + im.Info.Tag
		if im.Info.Digest != "" {
			name = base + "@" + im.Info.Digest
		}
		out = append(out, image{name: name, digest: im.Info.Digest, pointer: im.Pointer})
	}
	return out, nil
}

// matchAny reports whether the image matches one of the wildcard patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if wildcard.Match(p, name) {
			return true
		}
	}
	return false
}
