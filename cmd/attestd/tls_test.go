package main_test

import (
	"context"
	"crypto/tls"
	"syscall"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/testkit/testpki"
)

// serverSerial opens a TLS connection and returns the certificate's serial.
func serverSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestBinaryReloadsCertificateOnSIGHUP: the built attestd serves TLS on
// both listeners and, on SIGHUP, the rotated certificate.
func TestBinaryReloadsCertificateOnSIGHUP(t *testing.T) {
	bin := build(t)
	pki := testpki.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, s := startBinary(t, ctx, bin, nil, []string{
		"ATTESTD_GRPC_ADDR=127.0.0.1:0", "ATTESTD_HTTP_ADDR=127.0.0.1:0",
		"ATTESTD_TLS_CERT_FILE=" + pki.CertFile, "ATTESTD_TLS_KEY_FILE=" + pki.KeyFile,
	}, "attestd serving")
	if s["tls"] != true {
		t.Fatalf("serving without TLS: %v", s)
	}
	client := pki.ClientTLS(nil)
	grpcAddr, httpAddr := s["grpc_addr"].(string), s["http_addr"].(string)
	before := serverSerial(t, grpcAddr, client)
	if got := serverSerial(t, httpAddr, client); got != before {
		t.Fatalf("the listeners serve different certificates: %s, %s", before, got)
	}

	pki.RotateServer(t)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for m := range p.Lines {
		if m["msg"] == "TLS certificate reloaded" {
			break
		}
		if m["msg"] == "TLS reload failed; the previous certificate stays in use" {
			t.Fatalf("reload failed: %v", m)
		}
	}
	after := serverSerial(t, grpcAddr, client)
	if after == before || serverSerial(t, httpAddr, client) != after {
		t.Errorf("serial before %s, after SIGHUP %s (both listeners must serve the new one)", before, after)
	}
	p.Stop(t)
}
