package errlist

import "strings"

// List is every problem of one operation, in the order found; it is
// returned as one error. A nil or empty List should not be returned as an
// error: callers return nil instead.
type List[E error] []E

// Error prints one problem per line.
func (l List[E]) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes each problem to errors.Is / errors.As.
func (l List[E]) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
