package security_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/security"
	"github.com/attestd/attestd/internal/testkit/testpki"
)

// Tokens used in the tables: long enough to be accepted.
const (
	tokenA = "tok-a-0123456789abcdef"
	tokenB = "tok-b-fedcba9876543210"
)

func TestParseTokens(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		callers int    // accepted: the number of callers
		mention string // refused: the error mentions this
		secrets []string
	}{
		{"one caller", "svc-a " + tokenA + "\n", 1, "", nil},
		{"comments and blank lines", "# attestd callers\n\n   \nsvc-a " + tokenA + "\n  # indented comment\n\nsvc-b\t" + tokenB, 2, "", nil},
		{"CRLF and surrounding space", "  svc-a   " + tokenA + "  \r\nsvc-b " + tokenB + "\r\n", 2, "", nil},
		{"exactly 16 characters", "svc-a 0123456789abcdef", 1, "", nil},
		{"empty file", "", 0, "no tokens", nil},
		{"only comments", "# nobody\n\n#svc-a " + tokenA + "\n", 0, "no tokens", []string{tokenA}},
		{"name only", "svc-a\n", 0, "line 1: want \"name token\"", nil},
		{"token only", "\n" + tokenA + "\n", 0, "line 2: want \"name token\"", []string{tokenA}},
		{"three fields", "svc-a " + tokenA + " extra-" + tokenB, 0, "line 1: want \"name token\"", []string{tokenA, tokenB}},
		{"short token", "svc-a " + tokenA + "\nsvc-b short-secret1\n", 0, "line 2:", []string{tokenA, "short-secret1"}},
		// Swapped columns: the token is where the name belongs, and the
		// error must not quote it as if it were a name.
		{"name and token swapped", tokenA + " svc-a\n", 0, "line 1:", []string{tokenA}},
		{"duplicate caller", "svc-a " + tokenA + "\nsvc-b " + tokenB + "\nsvc-a " + tokenB + "x\n", 0, `line 3: caller "svc-a" appears twice`, []string{tokenA, tokenB}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tokens, err := security.ParseTokens([]byte(tc.file))
			if tc.mention == "" {
				if err != nil {
					t.Fatalf("ParseTokens: %v", err)
				}
				if tokens.Len() != tc.callers {
					t.Errorf("Len() = %d, want %d", tokens.Len(), tc.callers)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseTokens accepted %q", tc.file)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			for _, s := range tc.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains the token %q", err, s)
				}
			}
			// Nothing token-like of 8 characters or more either.
			for _, f := range strings.Fields(tc.file) {
				if len(f) >= 8 && strings.HasPrefix(f, "tok-") && strings.Contains(err.Error(), f[:8]) {
					t.Errorf("error %q contains part of the token %q", err, f)
				}
			}
		})
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens")
	if err := os.WriteFile(good, []byte("svc-a "+tokenA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := security.LoadTokens(good)
	if err != nil || tokens.Len() != 1 {
		t.Fatalf("LoadTokens = %v, %v", tokens, err)
	}
	if name, ok := tokens.Authenticate(tokenA); !ok || name != "svc-a" {
		t.Errorf("Authenticate after LoadTokens = %q, %v", name, ok)
	}

	bad := filepath.Join(dir, "bad-tokens")
	if err := os.WriteFile(bad, []byte("svc-a s3cr3t-xyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = security.LoadTokens(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("LoadTokens(bad) = %v; want an error naming the file and line", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q contains the token", err)
	}

	if _, err := security.LoadTokens(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadTokens(missing) = %v; want ErrNotExist", err)
	}
}

func TestAuthenticate(t *testing.T) {
	tokens, err := security.ParseTokens([]byte("svc-a " + tokenA + "\nsvc-b " + tokenB + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token string
		name  string
		ok    bool
	}{
		{tokenA, "svc-a", true},
		{tokenB, "svc-b", true},
		{"", "", false},
		{"tok-a-0123456789abcdeX", "", false},
		{tokenA[:len(tokenA)-1], "", false},
		{tokenA + " ", "", false},
		{strings.ToUpper(tokenA), "", false},
		{"svc-a", "", false}, // a name is not a token
	}
	for _, tc := range cases {
		name, ok := tokens.Authenticate(tc.token)
		if name != tc.name || ok != tc.ok {
			t.Errorf("Authenticate(%q) = %q, %v; want %q, %v", tc.token, name, ok, tc.name, tc.ok)
		}
	}
}

func TestFingerprint(t *testing.T) {
	fp := security.Fingerprint(tokenA)
	if len(fp) != 12 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("Fingerprint = %q; want 12 lower-case hex digits", fp)
	}
	if again := security.Fingerprint(tokenA); again != fp {
		t.Errorf("Fingerprint is not stable: %q then %q", fp, again)
	}
	seen := map[string]string{}
	for _, s := range []string{tokenA, tokenB, "", "a", "b", tokenA + "x"} {
		got := security.Fingerprint(s)
		if len(got) != 12 {
			t.Errorf("Fingerprint(%q) = %q", s, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("Fingerprint(%q) == Fingerprint(%q) == %q", s, other, got)
		}
		seen[got] = s
		if len(s) >= 8 && strings.Contains(got, s[:8]) {
			t.Errorf("Fingerprint(%q) = %q contains the secret", s, got)
		}
	}
	// The SHA-256 of "" starts e3b0c44298fc: the digest really is SHA-256.
	if got := security.Fingerprint(""); got != "e3b0c44298fc" {
		t.Errorf("Fingerprint(\"\") = %q, want e3b0c44298fc", got)
	}
}

// handshake runs one TLS handshake over loopback TCP between server (with
// cfg) and a client (with client). It returns the server's verdict: nil when
// the server finished the handshake.
func handshake(t *testing.T, cfg, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer raw.Close()
		srv := tls.Server(raw, cfg)
		if err := srv.HandshakeContext(ctx); err != nil {
			done <- err
			return
		}
		_, err = srv.Write([]byte("k")) // tells the client the server is satisfied
		done <- err
	}()
	var d tls.Dialer
	d.Config = client
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		defer c.Close()
		// With TLS 1.3 the client's handshake ends before the server has
		// checked the client's certificate: read the verdict.
		var b [1]byte
		if _, err = io.ReadFull(c, b[:]); err == nil && b[0] != 'k' {
			err = errors.New("unexpected byte from the server")
		}
	}
	select {
	case serverErr = <-done:
	case <-ctx.Done():
		t.Fatal("handshake did not finish")
	}
	return serverErr, err
}

func TestServerConfigTLS(t *testing.T) {
	pki := testpki.New(t)
	cfg, r, err := security.ServerConfig(security.TLSOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if r == nil || r.LastError() != nil {
		t.Fatalf("reloader %v, LastError %v", r, r.LastError())
	}
	if cfg.ClientAuth != tls.NoClientCert || cfg.ClientCAs != nil || cfg.VerifyConnection != nil {
		t.Errorf("plain TLS asks for client certificates: %v", cfg.ClientAuth)
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Contains(cfg.NextProtos, "h2") {
		t.Errorf("MinVersion %x, NextProtos %v", cfg.MinVersion, cfg.NextProtos)
	}
	serverErr, clientErr := handshake(t, cfg, pki.ClientTLS(nil))
	if serverErr != nil || clientErr != nil {
		t.Fatalf("handshake: server %v, client %v", serverErr, clientErr)
	}
	// A client certificate the server did not ask for changes nothing.
	if serverErr, clientErr := handshake(t, cfg, pki.ClientTLS(pki.ForeignClient(t, "x.internal"))); serverErr != nil || clientErr != nil {
		t.Errorf("handshake with an unrequested certificate: server %v, client %v", serverErr, clientErr)
	}
	// TLS 1.1 is refused.
	old := pki.ClientTLS(nil)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if serverErr, _ := handshake(t, cfg, old); serverErr == nil {
		t.Error("a TLS 1.1 client was accepted")
	}
}

func TestServerConfigMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	cfg, _, err := security.ServerConfig(security.TLSOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile, ClientCAFile: pki.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("ClientAuth %v, ClientCAs %v", cfg.ClientAuth, cfg.ClientCAs)
	}
	if cfg.VerifyConnection != nil {
		t.Error("an allow-list check without an allow-list")
	}
	cases := []struct {
		name   string
		client *testpki.Cert
		ok     bool
	}{
		{"any certificate the CA signed", pki.Client(t, "svc-z.internal"), true},
		{"no client certificate", nil, false},
		{"another CA's certificate", pki.ForeignClient(t, "svc-z.internal"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantHandshake(t, cfg, pki.ClientTLS(tc.client), tc.ok)
		})
	}
}

func TestServerConfigAllowList(t *testing.T) {
	pki := testpki.New(t)
	const spiffe = "spiffe://attestd.test/ns/prod/sa/svc-u"
	cfg, _, err := security.ServerConfig(security.TLSOptions{
		CertFile: pki.CertFile, KeyFile: pki.KeyFile, ClientCAFile: pki.CAFile,
		AllowedClients: []string{"svc-a.internal", spiffe},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VerifyConnection == nil {
		t.Fatal("no VerifyConnection with an allow-list")
	}
	cases := []struct {
		name   string
		client *testpki.Cert
		ok     bool
	}{
		{"allowed DNS SAN", pki.Client(t, "svc-a.internal"), true},
		{"allowed URI SAN", pki.Client(t, spiffe), true},
		{"allowed DNS SAN after another", pki.Client(t, "svc-other.internal", "svc-a.internal"), true},
		{"allowed URI SAN next to a DNS SAN", pki.Client(t, "svc-other.internal", spiffe), true},
		{"DNS SAN not on the list", pki.Client(t, "svc-b.internal"), false},
		{"URI SAN not on the list", pki.Client(t, "spiffe://attestd.test/ns/prod/sa/svc-v"), false},
		{"allowed name as another URI's host", pki.Client(t, "https://svc-a.internal"), false},
		{"allowed name as a prefix", pki.Client(t, "svc-a.internal.evil.example"), false},
		{"no client certificate", nil, false},
		{"allowed name from another CA", pki.ForeignClient(t, "svc-a.internal"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serverErr := wantHandshake(t, cfg, pki.ClientTLS(tc.client), tc.ok)
			if tc.client == nil {
				return
			}
			listed := !strings.Contains(tc.name, "another CA")
			if !tc.ok && listed && (serverErr == nil || !strings.Contains(serverErr.Error(), "identity is not allowed")) {
				t.Errorf("refused for another reason than the allow-list: %v", serverErr)
			}
			// The hook alone, on the connection state a handshake would give.
			err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.client.Leaf}})
			if tc.ok != (err == nil) && listed {
				t.Errorf("VerifyConnection = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{}); err == nil {
		t.Error("VerifyConnection accepted a connection without a certificate")
	}
	// The CN is not an identity: a certificate without SANs is refused even
	// when its common name is on the list.
	cnOnly := &x509.Certificate{Subject: pkix.Name{CommonName: "svc-a.internal"}}
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{cnOnly}}); err == nil {
		t.Error("VerifyConnection accepted a common name")
	}
}

func TestServerConfigErrors(t *testing.T) {
	pki := testpki.New(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		opts    security.TLSOptions
		mention string
	}{
		{"missing certificate", security.TLSOptions{CertFile: filepath.Join(dir, "none.pem"), KeyFile: pki.KeyFile}, "none.pem"},
		{"garbage certificate", security.TLSOptions{CertFile: garbage, KeyFile: pki.KeyFile}, "garbage.pem"},
		{"key of another certificate", security.TLSOptions{CertFile: pki.CertFile, KeyFile: pki.Client(t, "x").KeyFile}, "server.pem"},
		{"missing client CA", security.TLSOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile, ClientCAFile: filepath.Join(dir, "ca.pem")}, "client CA"},
		{"client CA without PEM", security.TLSOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile, ClientCAFile: garbage}, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, r, err := security.ServerConfig(tc.opts)
			if err == nil || cfg != nil || r != nil {
				t.Fatalf("ServerConfig = %v, %v, %v; want an error", cfg, r, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestIdentities(t *testing.T) {
	cases := []struct {
		name  string
		cert  *x509.Certificate
		all   []string
		names []string
	}{
		{"URIs before DNS names", &x509.Certificate{
			Subject:  pkix.Name{CommonName: "cn.internal"},
			DNSNames: []string{"b.internal", "a.internal"},
			URIs:     []*url.URL{mustURL(t, "spiffe://td/x"), mustURL(t, "spiffe://td/y")},
		}, []string{"spiffe://td/x", "spiffe://td/y", "b.internal", "a.internal"}, []string{"spiffe://td/x", "spiffe://td/y", "b.internal", "a.internal"}},
		{"DNS names only", &x509.Certificate{
			Subject:  pkix.Name{CommonName: "cn.internal"},
			DNSNames: []string{"b.internal", "a.internal"},
		}, []string{"b.internal", "a.internal"}, []string{"b.internal", "a.internal"}},
		{"common name only", &x509.Certificate{Subject: pkix.Name{CommonName: "cn.internal"}}, []string{}, []string{"cn.internal"}},
		{"nothing", &x509.Certificate{}, []string{}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := security.Identities(tc.cert); !slices.Equal(got, tc.all) {
				t.Errorf("Identities = %q, want %q", got, tc.all)
			}
			if got := security.Names(tc.cert); !slices.Equal(got, tc.names) {
				t.Errorf("Names = %q, want %q", got, tc.names)
			}
		})
	}
	// A real certificate from the test CA says the same.
	c := testpki.New(t).Client(t, "svc-a.internal", "spiffe://td/svc-a")
	if got := security.Identities(c.Leaf); !slices.Equal(got, []string{"spiffe://td/svc-a", "svc-a.internal"}) {
		t.Errorf("Identities of an issued certificate = %q", got)
	}
}

// wantHandshake runs a handshake, checks that both sides agree it
// succeeded (ok) or failed, and returns the server's error.
func wantHandshake(t *testing.T, cfg, client *tls.Config, ok bool) error {
	t.Helper()
	serverErr, clientErr := handshake(t, cfg, client)
	if ok && (serverErr != nil || clientErr != nil) {
		t.Errorf("refused: server %v, client %v", serverErr, clientErr)
	}
	if !ok && (serverErr == nil || clientErr == nil) {
		t.Errorf("accepted: server %v, client %v", serverErr, clientErr)
	}
	return serverErr
}
