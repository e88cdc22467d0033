package variables

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/podspec"
)

// defaultRegistry is the registry Kyverno assumes for unqualified images
// (its default configuration, with default registry mutation enabled).
const defaultRegistry = "docker.io"

// Image reference grammar (github.com/distribution/reference).
var (
	reDomain      = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	rePathElement = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	reTag         = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	reDigest      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// digestLengths are the hex lengths of the digest algorithms Kyverno accepts.
var digestLengths = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

const maxNameLength = 255

// ImageInfos computes Kyverno's `images` variable for a resource: for Pods,
// pod controllers (Deployment, DaemonSet, ReplicaSet, ReplicationController,
// StatefulSet, Job) and CronJobs it returns
//
//	{"initContainers"|"containers"|"ephemeralContainers":
//	    {<container name>: {registry, path, name, tag, digest, reference,
//	                        referenceWithTag, jsonPointer}}}
//
// with only non-empty groups, empty fields omitted, and Kyverno's defaults:
// registry docker.io for unqualified images, tag "latest" when there is
// neither tag nor digest, and "library/" prefixed to single-segment paths
// (referenceWithTag keeps the path as written). Other kinds, and resources
// without images, yield nil. Containers without an image are skipped. It
// returns an error, as Kyverno does, for a container without a string name,
// a malformed pod spec, or an unparsable image.
func ImageInfos(resource map[string]any) (map[string]any, error) {
	kind, _ := resource["kind"].(string)
	specPath, ok := podspec.Path(kind)
	if !ok {
		return nil, nil
	}
	var out map[string]any
	for _, group := range podspec.ContainerGroups {
		fields := append(append([]string{}, specPath...), group)
		infos, err := extractImages(resource, fields)
		if err != nil {
			return nil, err
		}
		if len(infos) > 0 {
			if out == nil {
				out = map[string]any{}
			}
			out[group] = infos
		}
	}
	return out, nil
}

// extractImages walks fields from resource down to a container list and
// returns the image infos of its containers keyed by container name.
func extractImages(resource map[string]any, fields []string) (map[string]any, error) {
	var cur any = resource
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, errors.New("invalid image config")
		}
		cur = m[f]
		if cur == nil {
			return nil, nil
		}
	}
	pointerBase := "/" + strings.Join(fields, "/") + "/"
	infos := map[string]any{}
	add := func(elem any, pos string) error {
		if elem == nil {
			return nil
		}
		container, ok := elem.(map[string]any)
		if !ok {
			return errors.New("invalid image config")
		}
		name, ok := container["name"].(string)
		if !ok {
			return errors.New("invalid key")
		}
		image, ok := container["image"].(string)
		if !ok || strings.TrimSpace(image) == "" {
			return nil
		}
		info, err := ParseImage(image)
		if err != nil {
			return fmt.Errorf("invalid image '%s': %w", image, err)
		}
		info["jsonPointer"] = pointerBase + pos + "/image"
		infos[name] = info
		return nil
	}
	switch list := cur.(type) {
	case []any:
		for i, elem := range list {
			if err := add(elem, strconv.Itoa(i)); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, elem := range list {
			if err := add(elem, k); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("invalid type")
	}
	return infos, nil
}

// ParseImage parses an image reference the way Kyverno's GetImageInfo does
// and returns its fields: registry, path, name, tag, digest, reference and
// referenceWithTag (empty fields omitted). See ImageInfos for the defaults.
func ParseImage(image string) (map[string]any, error) {
	full := withDefaultRegistry(image)
	rest, digest, hasDigest := strings.Cut(full, "@")
	if hasDigest {
		if err := validateDigest(digest); err != nil {
			return nil, err
		}
	}
	tag := ""
	if colon := strings.LastIndexByte(rest, ':'); colon > strings.LastIndexByte(rest, '/') {
		tag = rest[colon+1:]
		rest = rest[:colon]
		if !reTag.MatchString(tag) {
			return nil, fmt.Errorf("invalid tag %q", tag)
		}
	}
	registry, imgPath := "", rest
	if slash := strings.IndexByte(rest, '/'); slash > 0 && reDomain.MatchString(rest[:slash]) {
		registry, imgPath = rest[:slash], rest[slash+1:]
	}
	if imgPath == "" {
		return nil, errors.New("invalid reference format: empty repository path")
	}
	for _, elem := range strings.Split(imgPath, "/") {
		if !rePathElement.MatchString(elem) {
			if rePathElement.MatchString(strings.ToLower(elem)) {
				return nil, errors.New("repository name must be lowercase")
			}
			return nil, fmt.Errorf("invalid reference format: bad path component %q", elem)
		}
	}
	if len(rest) > maxNameLength {
		return nil, fmt.Errorf("repository name must not be more than %d characters", maxNameLength)
	}

	name := imgPath[strings.LastIndexByte(imgPath, '/')+1:]
	if digest == "" && tag == "" {
		tag = "latest"
	}
	var referenceWithTag string
	if registry != "" {
		referenceWithTag = registry + "/" + imgPath + ":" + tag
	} else {
		referenceWithTag = imgPath + ":" + tag
	}
	if !strings.Contains(imgPath, "/") {
		imgPath = "library/" + imgPath
	}
	reference := imgPath
	if registry != "" {
		reference = registry + "/" + imgPath
	}
	if digest != "" {
		reference += "@" + digest
	} else {
		reference += ":" + tag
	}
	// A first path segment with '_' cannot be a domain, so the parser took it
	// as part of the path; Kyverno reports it as the registry anyway.
	if first, remainder, ok := strings.Cut(imgPath, "/"); ok && registry == "" && strings.Contains(first, "_") {
		registry, imgPath = first, remainder
	}

	info := map[string]any{
		"name":             name,
		"path":             imgPath,
		"reference":        reference,
		"referenceWithTag": referenceWithTag,
	}
	if registry != "" {
		info["registry"] = registry
	}
	if tag != "" {
		info["tag"] = tag
	}
	if digest != "" {
		info["digest"] = digest
	}
	return info, nil
}

// withDefaultRegistry prefixes docker.io unless the first path segment looks
// like a registry (contains '.' or ':', is "localhost", or has upper case).
func withDefaultRegistry(image string) string {
	slash := strings.IndexByte(image, '/')
	if slash == -1 {
		return defaultRegistry + "/" + image
	}
	first := image[:slash]
	if !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		return defaultRegistry + "/" + image
	}
	return image
}

func validateDigest(d string) error {
	if !reDigest.MatchString(d) {
		return fmt.Errorf("invalid digest %q", d)
	}
	alg, hex, _ := strings.Cut(d, ":")
	n, ok := digestLengths[alg]
	if !ok {
		return fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	if len(hex) != n || strings.ToLower(hex) != hex {
		return fmt.Errorf("invalid checksum digest format %q", d)
	}
	return nil
}
