package security

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// minTokenLen keeps guessable tokens out of the file.
const minTokenLen = 16

// Tokens are the callers' bearer tokens. Only SHA-256 hashes are kept, and
// a presented token is compared with every entry in constant time, so
// neither memory nor timing gives a token away. Tokens from WatchTokens
// follow their file.
type Tokens struct {
	entries []tokenEntry
	// file, when set, holds the entries in use instead (WatchTokens).
	file *File[*Tokens]
}

type tokenEntry struct {
	name string
	hash [sha256.Size]byte
}

// LoadTokens reads a tokens file: one "name token" per line; blank lines
// and lines starting with # are ignored. Errors name the line, never the
// token.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTokens(data)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// WatchTokens is LoadTokens kept current: the file is re-read when it
// changes and on Reload, so a rotated token takes effect without a restart;
// a file that no longer parses keeps the previous tokens in use. report is
// as for WatchFile.
func WatchTokens(path string, report func(error)) (*Tokens, error) {
	f, err := WatchFile(path, ParseTokens, report)
	if err != nil {
		return nil, err
	}
	return &Tokens{file: f}, nil
}

// current is the token set in use.
func (t *Tokens) current() *Tokens {
	if t.file != nil {
		return t.file.Get()
	}
	return t
}

// Reload re-reads the file of Tokens from WatchTokens (SIGHUP); others have
// none to read.
func (t *Tokens) Reload() error {
	if t.file == nil {
		return nil
	}
	return t.file.Reload()
}

// ParseTokens is LoadTokens on bytes.
func ParseTokens(data []byte) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch {
		case len(f) != 2:
			return nil, fmt.Errorf("line %d: want \"name token\"", n)
		case len(f[1]) < minTokenLen:
			// No name quoted: with the columns swapped, f[0] is the token.
			return nil, fmt.Errorf("line %d: the token is shorter than %d characters", n, minTokenLen)
		case names[f[0]]:
			return nil, fmt.Errorf("line %d: caller %q appears twice", n, f[0])
		}
		names[f[0]] = true
		t.entries = append(t.entries, tokenEntry{name: f[0], hash: sha256.Sum256([]byte(f[1]))})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("no tokens")
	}
	return t, nil
}

// Authenticate returns the caller a token belongs to. Every entry is
// compared, whether or not an earlier one matched.
func (t *Tokens) Authenticate(token string) (name string, ok bool) {
	sum := sha256.Sum256([]byte(token))
	for _, e := range t.current().entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			name, ok = e.name, true
		}
	}
	return name, ok
}

// Len is the number of callers.
func (t *Tokens) Len() int { return len(t.current().entries) }

// Fingerprint identifies a secret in logs without revealing it: the first
// 12 hex digits of its SHA-256.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:6])
}
