// Package v2 holds the Go form of Kyverno's kyverno.io/v2 PolicyException
// (also served as v2beta1, with the same shape): the fields Portcullis
// reads, so that unknown fields can be refused at load.
package v2
