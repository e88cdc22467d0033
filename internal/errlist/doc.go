// Package errlist holds the one list-of-errors type: a slice of typed
// problems that is itself an error, printed one per line and unwrapped
// item by item for errors.Is / errors.As. Policy loading
// (internal/policyerr) and manifest streams (internal/source/files) name
// their own instantiations of it.
package errlist
