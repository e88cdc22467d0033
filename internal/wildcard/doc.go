// Package wildcard matches strings against shell-style wildcard patterns
// as Kyverno uses them: '*' matches any run of characters (including none)
// and '?' matches exactly one character. No other character is special.
package wildcard
