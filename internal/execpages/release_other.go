//go:build !linux

package execpages

import "errors"

// Release is only implemented on Linux: elsewhere it does nothing and
// says so.
func Release() (Stats, error) {
	return Stats{}, errors.New("execpages: only on Linux")
}
