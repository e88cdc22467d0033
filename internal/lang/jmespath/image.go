package jmespath

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Image reference grammar of github.com/distribution/reference, which
// Kyverno uses to parse images. These are immutable lookup tables.
var (
	imageReferenceRE = func() *regexp.Regexp {
		const (
			domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
			domainName      = domainComponent + `(?:\.` + domainComponent + `)*`
			ipv6            = `\[(?:[a-fA-F0-9:]+)\]`
			domain          = `(?:` + domainName + `|` + ipv6 + `)(?::[0-9]+)?`
			pathComponent   = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
			path            = pathComponent + `(?:/` + pathComponent + `)*`
			tag             = `[\w][\w.-]{0,127}`
			digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}`
		)
		return regexp.MustCompile(`^(?:(` + domain + `)/)?(` + path + `)(?::(` + tag + `))?(?:@(` + digest + `))?$`)
	}()
	digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}
)

const maxImageNameLength = 255

// normalizeImage returns the fully qualified form of an image reference the
// way Kyverno's image_normalize does: the default registry is added when
// the first path component is not a registry host, single-component paths
// get a "library/" prefix (on every registry, as in Kyverno), a missing
// tag becomes "latest", and a digest, when present, replaces the tag in the
// output ("registry/path@digest").
func normalizeImage(image, defaultRegistry string) (string, error) {
	full := image
	if slash := strings.IndexByte(image, '/'); slash == -1 || (!strings.ContainsAny(image[:slash], ".:") &&
		image[:slash] != "localhost" && strings.ToLower(image[:slash]) == image[:slash]) {
		full = defaultRegistry + "/" + image
	}
	registry, path, tag, digest, err := parseImageReference(full)
	if err != nil {
		return "", fmt.Errorf("bad image: %s, defaultRegistry: %s, enableDefaultRegistryMutation: true: %w",
			full, defaultRegistry, err)
	}
	if digest == "" && tag == "" {
		tag = "latest"
	}
	if !strings.Contains(path, "/") {
		path = "library/" + path
	}
	out := path
	if registry != "" {
		out = registry + "/" + path
	}
	if digest != "" {
		return out + "@" + digest, nil
	}
	return out + ":" + tag, nil
}

func parseImageReference(s string) (registry, path, tag, digest string, err error) {
	if s == "" {
		return "", "", "", "", errors.New("repository name must have at least one component")
	}
	m := imageReferenceRE.FindStringSubmatch(s)
	if m == nil {
		if imageReferenceRE.MatchString(strings.ToLower(s)) {
			return "", "", "", "", errors.New("repository name must be lowercase")
		}
		return "", "", "", "", errors.New("invalid reference format")
	}
	registry, path, tag, digest = m[1], m[2], m[3], m[4]
	name := path
	if registry != "" {
		name = registry + "/" + path
	}
	if len(name) > maxImageNameLength {
		return "", "", "", "", fmt.Errorf("repository name must not be more than %d characters", maxImageNameLength)
	}
	if digest != "" {
		algo, hex, _ := strings.Cut(digest, ":")
		want, ok := digestHexLen[algo]
		if !ok {
			return "", "", "", "", errors.New("unsupported digest algorithm")
		}
		if len(hex) != want || strings.ToLower(hex) != hex {
			return "", "", "", "", errors.New("invalid checksum digest format")
		}
	}
	return registry, path, tag, digest, nil
}
