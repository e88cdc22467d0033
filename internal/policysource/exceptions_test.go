package policysource

import "testing"

func TestExceptionAllowed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		allowed []string
		ns      string
		want    bool
	}{
		{nil, "policy-exceptions", false},
		{[]string{"policy-exceptions"}, "policy-exceptions", true},
		{[]string{"policy-exceptions"}, "team-a", false},
		{[]string{"ops", "policy-exceptions"}, "ops", true},
		{[]string{"*"}, "team-a", true},
		{[]string{"policy-*"}, "policy-exceptions", false}, // names, not patterns (as Kyverno's flag)
	} {
		if got := ExceptionAllowed(c.allowed, c.ns); got != c.want {
			t.Errorf("ExceptionAllowed(%v, %q) = %v, want %v", c.allowed, c.ns, got, c.want)
		}
	}
}
