package policyerr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/errlist"
)

// Error reports one problem in one policy document.
type Error struct {
	// File is the policy's source file.
	File string
	// Document is the 1-based document index in File (0 when unknown).
	Document int
	// Line is the 1-based line in File of the field, or of the document
	// when the field's line is unknown (0 when unknown).
	Line int
	// Policy and Rule name where the problem is ("" when not applicable).
	Policy string
	Rule   string
	// Field is the JSON path of the offending field, e.g.
	// "spec.rules[0].validate.pattern.spec.containers".
	Field string
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		switch {
		case e.Line > 0:
			fmt.Fprintf(&b, ":%d", e.Line)
		case e.Document > 0:
			fmt.Fprintf(&b, " (document %d)", e.Document)
		}
		b.WriteString(": ")
	}
	if e.Policy != "" {
		fmt.Fprintf(&b, "policy %q: ", e.Policy)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found while loading; it is returned as one error.
type Errors = errlist.List[*Error]

// AsErrors returns the individual problems in err (nil when err is nil).
func AsErrors(err error) []*Error {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return []*Error{{Msg: err.Error()}}
}
