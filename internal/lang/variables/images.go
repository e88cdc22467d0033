package variables

import (
	"errors"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/imageref"
	"github.com/portcullis/portcullis/internal/podspec"
)

// defaultRegistry is the registry Kyverno assumes for unqualified images
// (its default configuration, with default registry mutation enabled).
const defaultRegistry = "docker.io"

// Image is one container image of a resource as Kyverno's `images`
// variable shows it.
type Image struct {
	// Group is the container list: "initContainers", "containers" or
	// "ephemeralContainers".
	Group string
	// Container is the container's name.
	Container string
	// Pointer is the JSON pointer of the image field
	// ("/spec/containers/0/image").
	Pointer string
	// Info is the parsed image (registry, path, name, tag, digest,
	// reference, referenceWithTag).
	Info imageref.Info
}

// Images lists the container images of a Pod, pod controller (Deployment,
// DaemonSet, ReplicaSet, ReplicationController, StatefulSet, Job) or
// CronJob as Kyverno reads them, in container-list order; other kinds have
// none. Images are keyed by container name within a list, so a container
// named like a later one in the same list is dropped. Containers without an
// image are skipped; lists written as objects are read entry by entry. It
// returns an error, as Kyverno does, for a container without a string name,
// a malformed pod spec, or an image Kyverno cannot parse.
func Images(resource map[string]any) ([]Image, error) {
	kind, _ := resource["kind"].(string)
	path, ok := podspec.Path(kind)
	if !ok {
		return nil, nil
	}
	spec, err := podspec.Lookup(resource, path)
	if err != nil {
		return nil, errors.New("invalid image config")
	}
	if spec == nil {
		return nil, nil
	}
	containers, walkErr := podspec.Containers(spec, path, podspec.ObjectLists())
	var out []Image
	for _, c := range containers {
		if c.Value == nil {
			continue
		}
		container, ok := c.Object()
		if !ok {
			return nil, errors.New("invalid image config")
		}
		name, ok := container["name"].(string)
		if !ok {
			return nil, errors.New("invalid key")
		}
		image, ok := container["image"].(string)
		if !ok || strings.TrimSpace(image) == "" {
			continue
		}
		ref, err := imageref.Parse(image, imageref.Kyverno(defaultRegistry))
		if err != nil {
			return nil, fmt.Errorf("invalid image '%s': %w", image, err)
		}
		out = append(out, Image{Group: c.Group, Container: name, Pointer: c.Pointer() + "/image", Info: ref.Info()})
	}
	if walkErr != nil {
		return nil, errors.New("invalid type")
	}
	// Keep the last image of each container name in each list.
	last := make(map[[2]string]int, len(out))
	for i, im := range out {
		last[[2]string{im.Group, im.Container}] = i
	}
	if len(last) == len(out) {
		return out, nil
	}
	kept := out[:0]
	for i, im := range out {
		if last[[2]string{im.Group, im.Container}] == i {
			kept = append(kept, im)
		}
	}
	return kept, nil
}

// ImageInfos computes Kyverno's `images` variable for a resource (see
// Images):
//
//	{"initContainers"|"containers"|"ephemeralContainers":
//	    {<container name>: {registry, path, name, tag, digest, reference,
//	                        referenceWithTag, jsonPointer}}}
//
// with only non-empty groups and empty fields omitted. Other kinds, and
// resources without images, yield nil.
func ImageInfos(resource map[string]any) (map[string]any, error) {
	images, err := Images(resource)
	if err != nil || len(images) == 0 {
		return nil, err
	}
	out := map[string]any{}
	for _, im := range images {
		group, _ := out[im.Group].(map[string]any)
		if group == nil {
			group = map[string]any{}
			out[im.Group] = group
		}
		info := infoMap(im.Info)
		info["jsonPointer"] = im.Pointer
		group[im.Container] = info
	}
	return out, nil
}

// ParseImage parses an image reference the way Kyverno's GetImageInfo does
// and returns its fields: registry, path, name, tag, digest, reference and
// referenceWithTag (empty fields omitted), with Kyverno's defaults:
// registry docker.io for unqualified images, tag "latest" when there is
// neither tag nor digest, and "library/" prefixed to single-segment paths
// (referenceWithTag keeps the path as written).
func ParseImage(image string) (map[string]any, error) {
	ref, err := imageref.Parse(image, imageref.Kyverno(defaultRegistry))
	if err != nil {
		return nil, err
	}
	return infoMap(ref.Info()), nil
}

// infoMap is the JSON form of an image in the `images` variable.
func infoMap(in imageref.Info) map[string]any {
	m := map[string]any{
		"name":             in.Name,
		"path":             in.Path,
		"reference":        in.Reference,
		"referenceWithTag": in.ReferenceWithTag,
	}
	for k, v := range map[string]string{"registry": in.Registry, "tag": in.Tag, "digest": in.Digest} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}
