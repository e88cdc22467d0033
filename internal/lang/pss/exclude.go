package pss

import (
	"strconv"

	"github.com/portcullis/portcullis/internal/wildcard"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// applyExclusions removes the field errors exempted by the checker's
// exclusions, following Kyverno's algorithm (pkg/pss/evaluate.go):
// results are first collapsed to one per check ID (the last variant wins, the
// position of the first is kept), then every exclusion is evaluated on a
// derived pod and each of its matching field errors removes one equivalent
// field error from the results. Checks left without field errors pass.
func (c *Checker) applyExclusions(pod *corev1.Pod, results []checkResult) []checkResult {
	current := collapse(results)
	for i := range c.excludes {
		ex := &c.excludes[i]
		derived, containerLevel := derivedPod(pod, ex.Images)
		for _, exResult := range c.run(derived) {
			if !contains(ex.checkIDs, exResult.check.id) {
				continue
			}
			idx := indexOf(current, exResult.check.id)
			if idx < 0 {
				continue
			}
			exempted := false
			for _, exErr := range exResult.errs {
				exField := normalizePath(exErr.path)
				if ex.RestrictedField != "" && exField != ex.RestrictedField {
					continue
				}
				if !valuesMatch(ex.Values, exErr.bad) {
					continue
				}
				exempted = true
				current[idx].errs = removeMatching(current[idx].errs, exErr, exField, containerLevel)
			}
			if exempted && len(current[idx].errs) == 0 {
				current = append(current[:idx], current[idx+1:]...)
			}
		}
	}
	return current
}

// collapse keeps one result per check ID: the last one, at the position of the
// first. Field error slices are copied so removal never aliases.
func collapse(results []checkResult) []checkResult {
	out := make([]checkResult, 0, len(results))
	for _, r := range results {
		r.errs = append([]fieldErr(nil), r.errs...)
		if i := indexOf(out, r.check.id); i >= 0 {
			out[i] = r
			continue
		}
		out = append(out, r)
	}
	return out
}

func indexOf(results []checkResult, id string) int {
	for i := range results {
		if results[i].check.id == id {
			return i
		}
	}
	return -1
}

// derivedPod builds the pod an exclusion is evaluated on. Without images it is
// the pod with its containers replaced by a single empty container named
// "fake" (pod-level fields only); with images it holds only the name and
// namespace of the pod and the containers whose image matches a pattern.
func derivedPod(pod *corev1.Pod, images []string) (*corev1.Pod, bool) {
	if len(images) == 0 {
		cp := *pod
		cp.Spec.Containers = []corev1.Container{{Name: "fake"}}
		cp.Spec.InitContainers = nil
		cp.Spec.EphemeralContainers = nil
		return &cp, false
	}
	matching := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
	for _, ct := range pod.Spec.Containers {
		if matchAny(images, ct.Image) {
			matching.Spec.Containers = append(matching.Spec.Containers, ct)
		}
	}
	for _, ct := range pod.Spec.InitContainers {
		if matchAny(images, ct.Image) {
			matching.Spec.InitContainers = append(matching.Spec.InitContainers, ct)
		}
	}
	for _, ct := range pod.Spec.EphemeralContainers {
		if matchAny(images, ct.Image) {
			matching.Spec.EphemeralContainers = append(matching.Spec.EphemeralContainers, ct)
		}
	}
	return matching, true
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard.Match(p, s) {
			return true
		}
	}
	return false
}

// valuesMatch reports whether every offending value of bad matches one of the
// patterns. With no patterns, or no offending value, it is true.
func valuesMatch(patterns []string, bad any) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, v := range badValues(bad) {
		if !matchAny(patterns, v) {
			return false
		}
	}
	return true
}

// badValues renders an offending value as the strings exclusion values are
// compared with: a non-empty string, a bool, an int, or each string of a list.
func badValues(bad any) []string {
	switch v := bad.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case bool:
		return []string{strconv.FormatBool(v)}
	case int:
		return []string{strconv.Itoa(v)}
	case []string:
		return v
	}
	return nil
}

// removeMatching removes from errs the first field error equivalent to the
// exclusion's field error exErr (whose normalised path is exField) and
// returns the shortened slice. Container-level exclusions additionally require
// container fields to belong to a container of the same name. Removal moves
// the last element into the freed slot, as Kyverno does.
func removeMatching(errs []fieldErr, exErr fieldErr, exField string, containerLevel bool) []fieldErr {
	exContainer := containerLevel && isContainerPath(exErr.path)
	for i, e := range errs {
		if normalizePath(e.path) != exField {
			continue
		}
		if containerLevel && isContainerPath(e.path) {
			exName := ""
			if exContainer {
				exName = exErr.name
			}
			if exName != e.name {
				continue
			}
		}
		last := len(errs) - 1
		errs[i] = errs[last]
		return errs[:last]
	}
	return errs
}

// normalizePath replaces every run of digits with "*", the normalisation
// Kyverno applies before comparing field paths with restrictedField.
func normalizePath(path string) string {
	hasDigit := false
	for i := 0; i < len(path); i++ {
		if path[i] >= '0' && path[i] <= '9' {
			hasDigit = true
			break
		}
	}
	if !hasDigit {
		return path
	}
	out := make([]byte, 0, len(path))
	inDigits := false
	for i := 0; i < len(path); i++ {
		ch := path[i]
		if ch >= '0' && ch <= '9' {
			if !inDigits {
				out = append(out, '*')
				inDigits = true
			}
			continue
		}
		inDigits = false
		out = append(out, ch)
	}
	return string(out)
}

// isContainerPath reports whether the second alphabetic word of path names a
// container list, which is how Kyverno tells container fields from pod fields.
func isContainerPath(path string) bool {
	word := 0
	i := 0
	for i < len(path) {
		if !isLetter(path[i]) {
			i++
			continue
		}
		j := i
		for j < len(path) && isLetter(path[j]) {
			j++
		}
		word++
		if word == 2 {
			w := path[i:j]
			return w == "containers" || w == "initContainers" || w == "ephemeralContainers"
		}
		i = j
	}
	return false
}

func isLetter(b byte) bool {
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}
