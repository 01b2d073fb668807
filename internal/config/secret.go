package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Secret holds a credential. However it is printed — fmt with any verb, JSON,
// slog — it shows only whether it is set; Reveal is the one way to read it.
type Secret string

// Reveal returns the secret itself, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without the value.
func (s Secret) String() string {
	if s == "" {
		return "(unset)"
	}
	return "(redacted)"
}

// Format prints the redacted form for every verb, %d and %x included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// GoString keeps %#v redacted.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON keeps JSON renderings redacted.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue keeps slog output redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
