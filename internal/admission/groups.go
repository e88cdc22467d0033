package admission

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Webhook timeouts the API server accepts, in seconds.
const (
	minGroupTimeout = policy.MinWebhookTimeout
	maxGroupTimeout = policy.MaxWebhookTimeout
)

// WebhookGroup is one webhook of the validating configuration: the policies
// that share a failurePolicy and a timeout. Each group is served on its
// own path (Path), which evaluates that group's policies only, so a
// request matched by several groups evaluates each policy once and under
// its own timeout.
type WebhookGroup struct {
	// FailurePolicy is Fail or Ignore.
	FailurePolicy admissionregistrationv1.FailurePolicyType
	// TimeoutSeconds is the webhook's timeout (1 to 30).
	TimeoutSeconds int32
}

// ID is the group's stable, URL-safe name: the failure policy in lower
// case and the timeout, "fail-10s" or "ignore-30s".
func (g WebhookGroup) ID() string {
	return strings.ToLower(string(g.FailurePolicy)) + "-" + strconv.Itoa(int(g.TimeoutSeconds)) + "s"
}

// Path is where the group is served: PathValidate + "/" + ID.
func (g WebhookGroup) Path() string { return PathValidate + "/" + g.ID() }

// ParseWebhookGroup parses an ID. Only the groups the API server can
// register are accepted (Fail or Ignore, 1 to 30 seconds), so the per-group
// caches of a Handler stay bounded whatever clients send.
func ParseWebhookGroup(id string) (WebhookGroup, error) {
	fp, t, ok := strings.Cut(id, "-")
	secs, found := strings.CutSuffix(t, "s")
	if !ok || !found {
		return WebhookGroup{}, fmt.Errorf("webhook group %q: want <fail|ignore>-<seconds>s", id)
	}
	var g WebhookGroup
	switch fp {
	case "fail":
		g.FailurePolicy = admissionregistrationv1.Fail
	case "ignore":
		g.FailurePolicy = admissionregistrationv1.Ignore
	default:
		return WebhookGroup{}, fmt.Errorf("webhook group %q: failure policy must be fail or ignore", id)
	}
	n, err := strconv.Atoi(secs)
	if err != nil || n < minGroupTimeout || n > maxGroupTimeout || strconv.Itoa(n) != secs {
		return WebhookGroup{}, fmt.Errorf("webhook group %q: timeout must be %d to %d seconds", id, minGroupTimeout, maxGroupTimeout)
	}
	g.TimeoutSeconds = int32(n)
	return g, nil
}

// GroupDefaults are the failure policy and timeout of policies that set
// none. The validating configuration (internal/webhookconfig) and the
// Handler must use the same defaults, so that a group's path evaluates the
// policies whose rules the group registered.
type GroupDefaults struct {
	// FailurePolicy defaults to Fail.
	FailurePolicy admissionregistrationv1.FailurePolicyType
	// TimeoutSeconds defaults to 10.
	TimeoutSeconds int32
}

// WithDefaults fills what d leaves unset (Fail, 10 s).
func (d GroupDefaults) WithDefaults() GroupDefaults {
	if d.FailurePolicy == "" {
		d.FailurePolicy = admissionregistrationv1.Fail
	}
	if d.TimeoutSeconds <= 0 {
		d.TimeoutSeconds = 10
	}
	return d
}

// Default is the group of policies that set neither failure policy nor
// timeout, and of ClusterImagePolicies (whose images are checked under
// the default failure policy and timeout).
func (d GroupDefaults) Default() WebhookGroup {
	d = d.WithDefaults()
	return WebhookGroup(d)
}

// PolicyGroup is the group of a Kyverno ClusterPolicy or Policy: its
// failure policy and timeout (spec.webhookConfiguration, else the
// deprecated failurePolicy and webhookTimeoutSeconds), else the
// defaults. Its verifyImages rules go with it.
func (d GroupDefaults) PolicyGroup(p *policy.Policy) WebhookGroup {
	g := d.Default()
	if fp := p.FailurePolicy(); fp != "" {
		g.FailurePolicy = fp
	}
	if t := p.WebhookTimeoutSeconds(); t > 0 {
		g.TimeoutSeconds = t
	}
	return g
}

// ValidatingGroup is the group of a ValidatingPolicy: its failurePolicy
// and webhookConfiguration.timeoutSeconds, else the defaults.
func (d GroupDefaults) ValidatingGroup(vp *policy.ValidatingPolicy) WebhookGroup {
	g := d.Default()
	if fp := vp.Spec.Spec.FailurePolicy; fp != nil {
		g.FailurePolicy = *fp
	}
	if wc := vp.Spec.Spec.WebhookConfiguration; wc != nil && wc.TimeoutSeconds != nil && *wc.TimeoutSeconds > 0 {
		g.TimeoutSeconds = *wc.TimeoutSeconds
	}
	return g
}

// groups maps each policy of set, by kind and key as policy.Set.Select
// names them, to its group. ClusterImagePolicies and native
// ValidatingAdmissionPolicies are absent: they belong to the default
// group.
func (d GroupDefaults) groups(set *policy.Set) map[[2]string]WebhookGroup {
	out := make(map[[2]string]WebhookGroup, len(set.Policies)+len(set.Validating))
	for _, p := range set.Policies {
		out[[2]string{p.Kind(), p.Key()}] = d.PolicyGroup(p)
	}
	for _, vp := range set.Validating {
		out[[2]string{policy.KindValidatingPolicy, vp.Name()}] = d.ValidatingGroup(vp)
	}
	return out
}

// groupSets caches the policies of each group of the current set, so
// that a group's subset is built once per set, not per request. It holds
// the subsets of one set at a time: a new set replaces them all.
type groupSets struct {
	defaults GroupDefaults
	mu       sync.Mutex
	set      *policy.Set
	groups   map[[2]string]WebhookGroup
	subsets  map[WebhookGroup]*policy.Set
}

// get returns the policies of set in group g.
func (c *groupSets) get(set *policy.Set, g WebhookGroup) *policy.Set {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		c.set, c.groups, c.subsets = set, c.defaults.groups(set), map[WebhookGroup]*policy.Set{}
	}
	if sub, ok := c.subsets[g]; ok {
		return sub
	}
	def := c.defaults.Default()
	sub := set.Select(func(kind, key string) bool {
		pg, ok := c.groups[[2]string{kind, key}]
		if !ok {
			pg = def
		}
		return pg == g
	})
	c.subsets[g] = sub
	return sub
}

// list returns the distinct groups of set's policies, the default group
// first (it holds ClusterImagePolicies and native policies), the others
// by failure policy and timeout.
func (c *groupSets) list(set *policy.Set) []WebhookGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		c.set, c.groups, c.subsets = set, c.defaults.groups(set), map[WebhookGroup]*policy.Set{}
	}
	def := c.defaults.Default()
	out := []WebhookGroup{def}
	seen := map[WebhookGroup]bool{def: true}
	for _, g := range c.groups {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool {
		a, b := out[1+i], out[1+j]
		if a.FailurePolicy != b.FailurePolicy {
			return a.FailurePolicy < b.FailurePolicy
		}
		return a.TimeoutSeconds < b.TimeoutSeconds
	})
	return out
}
