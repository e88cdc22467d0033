package errlist

import (
	"errors"
	"io/fs"
	"testing"
)

type located struct {
	where string
	err   error
}

func (e *located) Error() string { return e.where + ": " + e.err.Error() }
func (e *located) Unwrap() error { return e.err }

func TestList(t *testing.T) {
	l := List[*located]{{"a.yaml", errors.New("bad")}, {"b.yaml", fs.ErrNotExist}}
	var err error = l
	if got, want := err.Error(), "a.yaml: bad\nb.yaml: file does not exist"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("errors.Is does not reach the second item's cause")
	}
	var one *located
	if !errors.As(err, &one) || one.where != "a.yaml" {
		t.Fatalf("errors.As = %v, want the first item", one)
	}
	var back List[*located]
	if !errors.As(err, &back) || len(back) != 2 {
		t.Fatalf("errors.As to the list = %v", back)
	}
}
