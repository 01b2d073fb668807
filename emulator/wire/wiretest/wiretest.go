// Package wiretest holds Stytch's answers in the wire's shape, invented but
// complete, for tests: the emulator's wire tests decode them, and attestd's
// fake Stytch (internal/stytchtest) serves them. One copy of each, here, so
// the emulator stays self-contained and the two can never drift apart.
package wiretest

import "embed"

// Fixtures holds attest-response-full.json (every field at every level),
// attest-response-typical.json (a realistic single-factor answer, ~9 KB)
// and attest-error.json (a Stytch error body).
//
//go:embed *.json
var Fixtures embed.FS
