package kyvernoimages

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/wildcard"
)

// image is one container image of a resource.
type image struct {
	// name is the image as Kyverno prints it: registry/path:tag, or
	// registry/path@digest when it has a digest.
	name string
	// base is registry/path.
	base        string
	tag, digest string
	// pointer is the JSON pointer of the image field.
	pointer string
}

// withDigest returns the image as Kyverno writes it after mutateDigest:
// its name (with the tag) followed by @digest.
func (im image) withDigest(d string) string { return im.name + "@" + d }

// groupOrder orders container lists as Kyverno's image variable does.
var groupOrder = map[string]int{"initContainers": 0, "containers": 1, "ephemeralContainers": 2}

// resourceImages returns the images of a Pod, pod controller or CronJob,
// in container-list order (nil for other kinds).
func resourceImages(resource map[string]any) ([]image, error) {
	infos, err := variables.ImageInfos(resource)
	if err != nil {
		return nil, err
	}
	type keyed struct {
		group int
		image
	}
	var all []keyed
	for group, byName := range infos {
		containers, _ := byName.(map[string]any)
		for _, raw := range containers {
			info, _ := raw.(map[string]any)
			str := func(k string) string { s, _ := info[k].(string); return s }
			im := image{tag: str("tag"), digest: str("digest"), pointer: str("jsonPointer")}
			// referenceWithTag keeps the path as written ("docker.io/nginx:x").
			im.base = strings.TrimSuffix(str("referenceWithTag"), ":"+im.tag)
			if im.base == "" {
				return nil, fmt.Errorf("image at %s has no reference", im.pointer)
			}
			if im.digest != "" {
				im.name = im.base + "@" + im.digest
			} else {
				im.name = im.base + ":" + im.tag
			}
			all = append(all, keyed{groupOrder[group], im})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].group != all[j].group {
			return all[i].group < all[j].group
		}
		return lessPointer(all[i].pointer, all[j].pointer)
	})
	out := make([]image, len(all))
	for i, k := range all {
		out[i] = k.image
	}
	return out, nil
}

// lessPointer orders JSON pointers with numeric segments compared as numbers.
func lessPointer(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		if len(as[i]) != len(bs[i]) && isDigits(as[i]) && isDigits(bs[i]) {
			return len(as[i]) < len(bs[i])
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
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
