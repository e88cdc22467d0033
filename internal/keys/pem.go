package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
)

// blocks yields parse's result for every PEM block of data, in order, and
// then, if non-blank text is left after the last block, a final error
// (naming want, the block type expected, when there was no block at all).
// A block parse refuses yields its error; iteration goes on with the next
// block unless the consumer stops.
func blocks[T any](data []byte, want string, parse func(*pem.Block) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rest := data
		n := 0
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			n++
			v, err := parse(b)
			if err != nil {
				err = fmt.Errorf("PEM block %d: %w", n, err)
			}
			if !yield(v, err) {
				return
			}
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			yield(zero, leftover(rest, n, want))
		}
	}
}

// leftover describes text that is not a PEM block after n blocks.
func leftover(rest []byte, n int, want string) error {
	switch {
	case n > 0:
		return fmt.Errorf("unparseable data after PEM block %d (truncated block or stray text)", n)
	case bytes.Contains(rest, []byte("-----BEGIN")):
		return errors.New("malformed PEM (truncated block or bad base64)")
	default:
		return fmt.Errorf("no PEM block found (want -----BEGIN %s-----)", want)
	}
}

// collect returns every value of seq, or its first error. Blank data is an
// error; other data without a block is refused by seq itself.
func collect[T any](data []byte, seq iter.Seq2[T, error]) ([]T, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty: no PEM data")
	}
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// SplitPEM returns every PEM block of data re-encoded on its own, in
// order; text outside blocks is dropped and nothing is parsed. Kyverno
// splits a publicKeys field this way, each block counting as one key.
func SplitPEM(data []byte) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		out = append(out, pem.EncodeToMemory(b))
	}
}

// FirstBlockType returns the type of the first PEM block of data ("PUBLIC
// KEY", "CERTIFICATE", ...), or "" when data holds no PEM block.
func FirstBlockType(data []byte) string {
	b, _ := pem.Decode(data)
	if b == nil {
		return ""
	}
	return b.Type
}
