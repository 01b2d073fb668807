// Package security decides who may call attestd: TLS for both listeners
// with certificates reloaded on change, optional mutual TLS with an
// allow-list of client identities, and caller bearer tokens kept only as
// hashes.
package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// TLSOptions are the certificate files and the mutual-TLS policy.
type TLSOptions struct {
	// CertFile and KeyFile are the server's PEM certificate chain and key.
	CertFile, KeyFile string
	// ClientCAFile, when set, requires client certificates signed by it.
	ClientCAFile string
	// AllowedClients, when set, admits only client certificates naming one
	// of these identities (SAN DNS name or URI).
	AllowedClients []string
}

// recheckEvery bounds how often a handshake looks at the certificate files'
// modification times: a rotated certificate is picked up within a second,
// without a watcher goroutine.
const recheckEvery = time.Second

// Reloader serves the current certificate, reloading it when its files
// change or when Reload is called (SIGHUP).
type Reloader struct {
	certFile, keyFile string
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	checkedAt time.Time
	lastErr   error
}

// NewReloader loads the certificate once; a bad pair fails start-up.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. A failed reload keeps the certificate in
// use (a half-written rotation must not take the service down) and
// returns the error for the log.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load()
}

func (r *Reloader) load() error {
	certMod, err1 := modTime(r.certFile)
	keyMod, err2 := modTime(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		r.lastErr = err
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.lastErr = fmt.Errorf("load TLS key pair %s, %s: %w", r.certFile, r.keyFile, err)
		return r.lastErr
	}
	r.cert, r.certMod, r.keyMod, r.lastErr = &cert, certMod, keyMod, nil
	return nil
}

// GetCertificate is the tls.Config hook: the current certificate, after a
// cheap check (at most once per second) that the files have not changed.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checkedAt) >= recheckEvery {
		r.checkedAt = now
		certMod, err1 := modTime(r.certFile)
		keyMod, err2 := modTime(r.keyFile)
		if err1 == nil && err2 == nil && (!certMod.Equal(r.certMod) || !keyMod.Equal(r.keyMod)) {
			_ = r.load() // on failure the old certificate stays; lastErr says why
		}
	}
	return r.cert, nil
}

// LastError is the error of the latest failed reload (nil after a success).
func (r *Reloader) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// ServerConfig builds the tls.Config both listeners use (TLS 1.2 and up,
// HTTP/2 offered for gRPC and REST alike) and the Reloader behind it.
func ServerConfig(o TLSOptions) (*tls.Config, *Reloader, error) {
	r, err := NewReloader(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if o.ClientCAFile == "" {
		return cfg, r, nil
	}
	pem, err := os.ReadFile(o.ClientCAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("client CA %s holds no PEM certificate", o.ClientCAFile)
	}
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	if len(o.AllowedClients) > 0 {
		allowed := slices.Clone(o.AllowedClients)
		// Runs after chain verification, for every handshake: a valid
		// certificate whose identities are not on the list is refused
		// before any call is read.
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			for _, id := range Identities(cs.PeerCertificates[0]) {
				if slices.Contains(allowed, id) {
					return nil
				}
			}
			return errors.New("client certificate identity is not allowed")
		}
	}
	return cfg, r, nil
}

// Identities are the names a certificate vouches for: its URI SANs (SPIFFE
// IDs), then its DNS SANs.
func Identities(c *x509.Certificate) []string {
	ids := make([]string, 0, len(c.URIs)+len(c.DNSNames))
	for _, u := range c.URIs {
		ids = append(ids, u.String())
	}
	return append(ids, c.DNSNames...)
}

// Names are what a caller presenting c is known by in logs and rate limits
// (the chain picks one by the allow-list): its Identities, or, for a
// certificate with none, its subject's common name. The allow-list itself
// is checked against Identities alone.
func Names(c *x509.Certificate) []string {
	if ids := Identities(c); len(ids) > 0 || c.Subject.CommonName == "" {
		return ids
	}
	return []string{c.Subject.CommonName}
}
