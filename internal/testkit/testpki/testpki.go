// Package testpki is a throwaway certificate authority for TLS tests.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority for TLS tests: a CA, a server
// certificate for 127.0.0.1, ::1 and localhost, and client certificates on
// demand, all ECDSA P-256 and valid for one hour. Every file lives in the
// test's temporary directory.
type PKI struct {
	// CAFile is the CA certificate (PEM): the server's client-CA bundle and
	// the clients' root.
	CAFile string
	// CertFile and KeyFile are the server's certificate and key (PEM).
	// RotateServer rewrites them in place.
	CertFile, KeyFile string
	// CA is the authority's certificate.
	CA *x509.Certificate
	// ServerLeaf is the server certificate currently in CertFile.
	ServerLeaf *x509.Certificate

	dir     string
	caKey   *ecdsa.PrivateKey
	foreign *authority // a second CA nobody trusts, made on first use
	n       atomic.Int64
}

// Cert is a certificate with its key, as files and ready for tls.Config.
type Cert struct {
	// CertFile and KeyFile are the certificate and key (PEM).
	CertFile, KeyFile string
	// Leaf is the parsed certificate.
	Leaf *x509.Certificate
	// TLS is the pair for tls.Config.Certificates.
	TLS tls.Certificate
}

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// New creates a CA and a server certificate signed by it.
func New(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{dir: t.TempDir()}
	ca := newAuthority(t, "attestd test CA")
	p.CA, p.caKey = ca.cert, ca.key
	p.CAFile = filepath.Join(p.dir, "ca.pem")
	writeFile(t, p.CAFile, pemBlock("CERTIFICATE", ca.cert.Raw))
	p.CertFile = filepath.Join(p.dir, "server.pem")
	p.KeyFile = filepath.Join(p.dir, "server-key.pem")
	p.RotateServer(t)
	return p
}

// RotateServer replaces the server certificate and key files with a new
// pair (new key, new serial number), each file swapped in by rename, and
// updates ServerLeaf.
func (p *PKI) RotateServer(t testing.TB) {
	t.Helper()
	tmpl := p.template(t, "attestd test server")
	tmpl.DNSNames = []string{"localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	c := p.issue(t, &authority{p.CA, p.caKey}, tmpl, "server-next")
	// Key first: a reload between the two renames sees a mismatched pair
	// and keeps the old certificate rather than serving a wrong one.
	replace(t, c.KeyFile, p.KeyFile)
	replace(t, c.CertFile, p.CertFile)
	p.ServerLeaf = c.Leaf
}

// Client issues a client certificate signed by the CA, naming each
// identity as a URI SAN (when it contains "://") or a DNS SAN; the first
// identity is also the subject's common name.
func (p *PKI) Client(t testing.TB, dnsOrURI ...string) *Cert {
	t.Helper()
	return p.client(t, &authority{p.CA, p.caKey}, dnsOrURI)
}

// ForeignClient is Client signed by a second CA that the server does not
// trust. Like Client, call it from the test's goroutine.
func (p *PKI) ForeignClient(t testing.TB, dnsOrURI ...string) *Cert {
	t.Helper()
	if p.foreign == nil {
		p.foreign = newAuthority(t, "untrusted test CA")
	}
	return p.client(t, p.foreign, dnsOrURI)
}

// ClientTLS is a client configuration trusting only the CA and verifying
// the server as 127.0.0.1 (its IP SAN). cert, when not nil, is presented
// whenever the server asks for a client certificate, even when the server
// names other CAs (crypto/tls would otherwise send none, and a foreign
// certificate would never reach the server's verification). No session
// cache: every connection does a full handshake and sees the server's
// current certificate.
func (p *PKI) ClientTLS(cert *Cert) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.CA)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair := cert.TLS
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg
}

func (p *PKI) client(t testing.TB, ca *authority, ids []string) *Cert {
	t.Helper()
	cn := "attestd test client"
	if len(ids) > 0 {
		cn = ids[0]
	}
	tmpl := p.template(t, cn)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	for _, id := range ids {
		if strings.Contains(id, "://") {
			u, err := url.Parse(id)
			if err != nil {
				t.Fatalf("client identity %q: %v", id, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, id)
		}
	}
	return p.issue(t, ca, tmpl, "client")
}

func (p *PKI) template(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// issue signs tmpl with ca and writes the pair to new files named after
// prefix.
func (p *PKI) issue(t testing.TB, ca *authority, tmpl *x509.Certificate, prefix string) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("sign certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	name := prefix + "-" + strconv.FormatInt(p.n.Add(1), 10)
	c := &Cert{
		CertFile: filepath.Join(p.dir, name+".pem"),
		KeyFile:  filepath.Join(p.dir, name+"-key.pem"),
		Leaf:     leaf,
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
	}
	writeFile(t, c.CertFile, pemBlock("CERTIFICATE", der))
	writeFile(t, c.KeyFile, pemBlock("PRIVATE KEY", keyDER))
	return c
}

func newAuthority(t testing.TB, cn string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("self-sign CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: cert, key: key}
}

// serial is a random 127-bit serial number, so every certificate's differs.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func replace(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
