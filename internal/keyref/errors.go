package keyref

import "errors"

// Failure classes of Load; test with errors.Is.
var (
	// ErrNotFound: the Secret, the Secret's data entry or the file does not
	// exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidKey: the data is not usable public key PEM (garbage, a
	// private key, a certificate, an unsupported key type), or a
	// policy-controller Secret holds more than one data entry.
	ErrInvalidKey = errors.New("invalid public key")
	// ErrUnsupported: the source is valid but not supported here (KMS and
	// hardware-token keys).
	ErrUnsupported = errors.New("unsupported key source")
	// ErrInvalidSource: the Source itself is malformed (no or several
	// fields set, a bad k8s:// reference, a Secret without a name).
	ErrInvalidSource = errors.New("invalid key source")
	// ErrUnavailable: the source could not be read (API error, RBAC,
	// unreadable file); retrying or fixing permissions may help.
	ErrUnavailable = errors.New("key source unavailable")
	// ErrForbidden: the policy may not name this source (see Scope): a
	// Secret outside a namespaced policy's namespace, or a file named by
	// a policy that was loaded from the cluster.
	ErrForbidden = errors.New("key source not allowed")
)

// Error reports a failure to load keys from one source.
type Error struct {
	Source string // the source, as Source.String (never its contents)
	Kind   error  // ErrNotFound, ErrInvalidKey, ErrUnsupported, ErrInvalidSource, ErrUnavailable or ErrForbidden
	Msg    string // what is wrong, for a person
	Err    error  // underlying cause, if any
}

// Error implements error.
func (e *Error) Error() string {
	s := "key " + e.Source + ": " + e.Kind.Error()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the failure class.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }
