package events

import (
	"cmp"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/podspec"
)

// Notifier connects a Tracker to a Sender: each change of a resource's
// results becomes transitions, each transition an event. Its methods
// match the background controller's Observer (Seed, Changed, Deleted)
// and never block.
type Notifier struct {
	Tracker *Tracker
	Sender  *Sender
}

// Seed records the failing results already reported for a resource
// (Tracker.Seed).
func (n Notifier) Seed(uid string, failing []engine.Result) {
	n.Tracker.Seed(uid, failing)
}

// Changed observes a resource's new results (object is the resource, for
// its images) and sends the transitions.
func (n Notifier) Changed(uid string, object map[string]any, results []engine.Result, now time.Time) {
	n.send(n.Tracker.Observe(uid, results, Images(object, results), now))
}

// Deleted sends a resolution for each rule the deleted resource failed.
func (n Notifier) Deleted(uid string, _ engine.Resource, now time.Time) {
	n.send(n.Tracker.Forget(uid, now))
}

// PolicyDeleted sends a resolution for each resource that failed the
// deleted policy (Tracker.ForgetPolicy).
func (n Notifier) PolicyDeleted(kind, policy string, now time.Time) {
	n.send(n.Tracker.ForgetPolicy(kind, policy, now))
}

func (n Notifier) send(ts []Transition) {
	for _, t := range ts {
		n.Sender.Send(t)
	}
}

// Images returns the images of a resource: those of its pod spec's
// containers in order (for a Pod with the digest its status reports as
// running), then those the results name (verifyImages and
// ClusterImagePolicy results carry the reference and the digest it
// resolved to) that the pod spec lacks. object may be nil.
func Images(object map[string]any, results []engine.Result) []Image {
	var out []Image
	at := map[string]int{}
	add := func(ref, digest string) {
		if ref == "" {
			return
		}
		if i, ok := at[ref]; ok {
			if out[i].Digest == "" {
				out[i].Digest = digest
			}
			return
		}
		at[ref] = len(out)
		out = append(out, Image{Ref: ref, Digest: digest})
	}
	if object != nil {
		kind, _ := object["kind"].(string)
		running := runningDigests(kind, object)
		if spec, path := podspec.Of(kind, object); spec != nil {
			containers, _ := podspec.Containers(spec, path) // malformed lists: what was read
			for _, c := range containers {
				obj, ok := c.Object()
				if !ok {
					continue
				}
				ref, _ := obj["image"].(string)
				name, _ := obj["name"].(string)
				add(ref, cmp.Or(running[name], digestOf(ref)))
			}
		}
	}
	for _, r := range results {
		add(r.Image, cmp.Or(r.Digest, digestOf(r.Image)))
	}
	return out
}

// runningDigests maps a Pod's container names to the digests their
// status reports (imageID "…@sha256:…").
func runningDigests(kind string, pod map[string]any) map[string]string {
	if kind != "Pod" {
		return nil
	}
	status, _ := pod["status"].(map[string]any)
	var out map[string]string
	for _, list := range []string{"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"} {
		entries, _ := status[list].([]any)
		for _, e := range entries {
			cs, _ := e.(map[string]any)
			name, _ := cs["name"].(string)
			id, _ := cs["imageID"].(string)
			if d := digestOf(id); name != "" && d != "" {
				if out == nil {
					out = map[string]string{}
				}
				out[name] = d
			}
		}
	}
	return out
}

// digestOf returns the digest of an image reference or image ID pinned by
// digest ("…@sha256:…"), else "".
func digestOf(ref string) string {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 && strings.Contains(ref[i+1:], ":") {
		return ref[i+1:]
	}
	return ""
}
