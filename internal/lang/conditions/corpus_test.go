package conditions

import "testing"

// TestCorpusConditions replays conditions from real Kyverno library policies
// (the compatibility corpus), with the values their variables take on the
// corpus' good and bad resources.
func TestCorpusConditions(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		// deny-commands-in-exec-probe: key [true] AnyIn regex_match results.
		{"exec probe uses jcmd", list(true), "AnyIn", list(false, true, false), true},
		{"exec probe clean", list(true), "AnyIn", list(false, false), false},
		{"exec probe no commands", list(true), "AnyIn", list(), false},
		{"probe command count precondition", 2.0, "GreaterThan", 0, true},
		{"probe command count zero", 0.0, "GreaterThan", 0, false},
		{"operation is not delete", "CREATE", "NotEquals", "DELETE", true},
		{"operation is delete", "DELETE", "NotEquals", "DELETE", false},
		// restrict-escalation-verbs-roles (foreach over rules).
		{"rbac api group", list("rbac.authorization.k8s.io"), "AnyIn", list("rbac.authorization.k8s.io"), true},
		{"missing api groups default", "", "AnyIn", list("rbac.authorization.k8s.io"), false},
		{"escalate verb", list("get", "escalate"), "AnyIn", list("bind", "escalate", "impersonate"), true},
		{"star verb matches", list("*"), "AnyIn", list("bind", "escalate", "impersonate"), true},
		{"harmless verbs", list("get", "list"), "AnyIn", list("bind", "escalate", "impersonate"), false},
		// block-stale-images: time_since(...) GreaterThan "4380h".
		{"stale image", "43800h0m0s", "GreaterThan", "4380h", true},
		{"fresh image", "720h30m0.5s", "GreaterThan", "4380h", false},
		// disallow-host-ports-range.
		{"host port in allowed range", list(5001.0), "AnyNotIn", "5000-6000", false},
		{"host port outside range", list(80.0, 5001.0), "AnyNotIn", "5000-6000", true},
		{"host port zero allowed", list(0.0), "AnyNotIn", list(0), false},
		{"host port set", list(8080.0), "AnyNotIn", list(0), true},
		{"no host ports", list(), "AnyNotIn", list(0), false},
		// require-drop-all / drop NET_RAW.
		{"drop all present", "ALL", "AnyNotIn", list("ALL"), false},
		{"drop all missing", "ALL", "AnyNotIn", list("NET_RAW", "SETUID"), true},
		// check-nvidia-gpu: env list.
		{"gpu env present", "NVIDIA_VISIBLE_DEVICES=*?", "AnyNotIn", list("PATH=/usr/bin", "NVIDIA_VISIBLE_DEVICES=all"), false},
		{"gpu env empty value", "NVIDIA_VISIBLE_DEVICES=*?", "AnyNotIn", list("NVIDIA_VISIBLE_DEVICES="), true},
		// restrict-pod-count / pdb checks.
		{"pdb count zero", 0.0, "LessThan", 1, true},
		{"pdb count one", 1.0, "LessThan", 1, false},
		{"pod count above", 11.0, "GreaterThan", 10, true},
		// JMESPath boolean results compared to literals.
		{"contains star true", true, "Equals", true, true},
		{"contains star false", false, "Equals", true, false},
		{"regex match false", false, "Equals", false, true},
		// max(...) NotEquals 2400.
		{"duration capped", 2400.0, "NotEquals", 2400, false},
		{"duration above cap", 8760.0, "NotEquals", 2400, true},
		// require probes: AllNotIn over element.keys(@)[].
		{"probe missing", "livenessProbe", "AllNotIn", list("image", "name"), true},
		{"probe present", "livenessProbe", "AllNotIn", list("image", "livenessProbe", "name"), false},
		// restrict-sa-automount-sa-token: token volume name Equals "?*".
		{"token volume found", "kube-api-access-x1", "Equals", "?*", true},
		{"token volume absent", "", "Equals", "?*", false},
		// restrict binding: AnyIn on core api group "".
		{"core api group", "", "AnyIn", list("", "apps"), true},
		// to_string(runAsUser) list against other pods' uids.
		{"shared uid", list("1000", "2000"), "AnyIn", list("3000", "1000"), true},
		{"distinct uids", list("1000"), "AnyIn", list("3000"), false},
		// replicas precondition.
		{"replicas enough", 3.0, "GreaterThanOrEquals", 3, true},
		{"replicas too few", 2.0, "GreaterThanOrEquals", 3, false},
		// namespace allow lists.
		{"namespace allowed", "any-namespace", "AnyIn", list("any-namespace", "another-namespace"), true},
		{"namespace not allowed", "default", "AnyIn", list("any-namespace", "another-namespace"), false},
		// configmap data holding a JSON array string.
		{"namespace in configmap list", "kube-system", "AnyNotIn", `["kube-system","kyverno"]`, false},
		{"namespace not in configmap list", "team-a", "AnyNotIn", `["kube-system","kyverno"]`, true},
	})
}
