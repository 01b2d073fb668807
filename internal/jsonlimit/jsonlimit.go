// Package jsonlimit bounds how deeply JSON nests, before anything decodes it.
//
// Decoders recurse once per level of objects and arrays, so a body of a few
// kilobytes of "[[[[…" costs megabytes of stack and milliseconds of CPU to
// refuse. The scanner here walks the bytes once, without allocating or
// recursing, and stops as soon as the limit is passed.
package jsonlimit

import (
	"bytes"
	"strconv"
)

// MaxDepth is the deepest nesting of objects and arrays attestd accepts in a
// request, the request object itself being level 1 (its
// session_custom_claims is level 2). Stytch caps custom claims at 4 KB of
// JSON, which real claims spend on breadth: 30 levels inside the claims is
// far beyond any claim structure an application uses, so the limit refuses
// only input built to be expensive.
const MaxDepth = 32

// DepthError is the verdict on JSON that nests deeper than Limit.
type DepthError struct {
	// Limit is the greatest nesting allowed.
	Limit int
}

// Error names the limit (never the input, which may hold secrets).
func (e *DepthError) Error() string {
	return "nesting deeper than " + strconv.Itoa(e.Limit) + " levels of objects and arrays"
}

// Check returns a *DepthError as soon as b nests objects and arrays deeper
// than maxDepth, and nil otherwise. It checks nesting only: b need not be
// valid JSON, and the decoder that runs next reports anything else.
func Check(b []byte, maxDepth int) error {
	if scan(b, maxDepth) > maxDepth {
		return &DepthError{Limit: maxDepth}
	}
	return nil
}

// Depth is the deepest nesting of objects and arrays in b (0 for a scalar).
func Depth(b []byte) int { return scan(b, -1) }

// scan returns the deepest nesting in b, stopping early once it exceeds
// stop (unless stop is negative). Brackets inside strings do not count; a
// closer without an opener is ignored (the decoder will refuse it).
func scan(b []byte, stop int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if stop >= 0 && deepest > stop {
					return deepest
				}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case '"':
			end := stringEnd(b, i+1)
			if end < 0 {
				return deepest // unterminated: nothing after it can nest
			}
			i = end
		}
	}
	return deepest
}

// stringEnd returns the index of the quote closing the string whose
// contents start at b[from], or -1 if it is never closed. A quote is
// escaped when an odd number of backslashes precede it.
func stringEnd(b []byte, from int) int {
	for {
		q := bytes.IndexByte(b[from:], '"')
		if q < 0 {
			return -1
		}
		q += from
		n := 0
		for j := q - 1; j >= from && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		from = q + 1
	}
}
