package policy

import "github.com/portcullis/portcullis/internal/policyerr"

// Error reports one problem in one policy document (see policyerr.Error).
type Error = policyerr.Error

// Errors is every problem found while loading; it is returned as one error.
type Errors = policyerr.Errors

// AsErrors returns the individual problems in err (nil when err is nil).
func AsErrors(err error) []*Error { return policyerr.AsErrors(err) }
