package jmespath

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp/syntax"
	"strings"
)

const (
	// maxUnboundedRepeat caps '*', '+' and '{n,}' when generating.
	maxUnboundedRepeat = 10
	// maxGeneratedLength guards against patterns like `a{1000}{1000}`.
	maxGeneratedLength = 1 << 16
)

// randomFromRegex generates a random string matching the regular
// expression pattern (RE2 syntax), like Kyverno's random() does with goregen.
func randomFromRegex(pattern string) (string, error) {
	if pattern == "" {
		return "", errors.New("no pattern provided")
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("invalid pattern: %w", err)
	}
	var b strings.Builder
	if err := generate(&b, re.Simplify()); err != nil {
		return "", err
	}
	return b.String(), nil
}

func generate(b *strings.Builder, re *syntax.Regexp) error {
	if b.Len() > maxGeneratedLength {
		return errors.New("generated string too long")
	}
	switch re.Op {
	case syntax.OpNoMatch:
		return errors.New("pattern can never match")
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		r, ok := pickFromClass(re.Rune)
		if !ok {
			return errors.New("empty character class")
		}
		b.WriteRune(r)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteRune(rune(' ' + rand.IntN('~'-' '+1)))
	case syntax.OpCapture:
		return generate(b, re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if err := generate(b, sub); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		return generate(b, re.Sub[rand.IntN(len(re.Sub))])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := repeatBounds(re)
		n := lo
		if hi > lo {
			n += rand.IntN(hi - lo + 1)
		}
		for range n {
			if err := generate(b, re.Sub[0]); err != nil {
				return err
			}
		}
	}
	// Anchors, word boundaries and empty matches produce nothing.
	return nil
}

func repeatBounds(re *syntax.Regexp) (int, int) {
	switch re.Op {
	case syntax.OpStar:
		return 0, maxUnboundedRepeat
	case syntax.OpPlus:
		return 1, maxUnboundedRepeat
	case syntax.OpQuest:
		return 0, 1
	}
	if re.Max < 0 {
		return re.Min, re.Min + maxUnboundedRepeat
	}
	return re.Min, re.Max
}

// pickFromClass picks a rune uniformly from the ranges [lo0, hi0, lo1, hi1...].
func pickFromClass(ranges []rune) (rune, bool) {
	total := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		total += int(ranges[i+1]-ranges[i]) + 1
	}
	if total == 0 {
		return 0, false
	}
	n := rand.IntN(total)
	for i := 0; i+1 < len(ranges); i += 2 {
		size := int(ranges[i+1]-ranges[i]) + 1
		if n < size {
			return ranges[i] + rune(n), true
		}
		n -= size
	}
	return 0, false
}
