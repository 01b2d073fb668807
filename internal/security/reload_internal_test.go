package security

import (
	"crypto/x509"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestd/attestd/internal/testkit/fakeclock"
	"github.com/attestd/attestd/internal/testkit/testpki"
)

// The Reloader tests are internal: they drive its clock (the unexported
// now), so the once-a-second file check is exercised without waiting.

func newTestReloader(t *testing.T, pki *testpki.PKI) (*Reloader, *fakeclock.Clock) {
	t.Helper()
	r, err := NewReloader(pki.CertFile, pki.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	r.now = clock.Now
	return r, clock
}

// served is the serial number of the certificate GetCertificate returns.
func served(t *testing.T, r *Reloader) *big.Int {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil || c == nil {
		t.Fatalf("GetCertificate = %v, %v", c, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return leaf.SerialNumber
}

// touch sets the files' modification time.
func touch(t *testing.T, mod time.Time, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func modOf(t *testing.T, file string) time.Time {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func wantSerial(t *testing.T, got, want *big.Int, when string) {
	t.Helper()
	if got.Cmp(want) != 0 {
		t.Errorf("%s: serving serial %v, want %v", when, got, want)
	}
}

func TestReloaderPicksUpChangedFiles(t *testing.T) {
	pki := testpki.New(t)
	r, clock := newTestReloader(t, pki)
	first := pki.ServerLeaf.SerialNumber
	wantSerial(t, served(t, r), first, "at start")
	base := modOf(t, pki.CertFile)

	pki.RotateServer(t)
	second := pki.ServerLeaf.SerialNumber
	if second.Cmp(first) == 0 {
		t.Fatal("RotateServer kept the serial number")
	}
	touch(t, base.Add(time.Minute), pki.CertFile, pki.KeyFile)
	wantSerial(t, served(t, r), first, "files changed, no time passed")
	clock.Advance(999 * time.Millisecond)
	wantSerial(t, served(t, r), first, "files changed, 999ms later")
	clock.Advance(time.Millisecond)
	wantSerial(t, served(t, r), second, "files changed, 1s later")
	if err := r.LastError(); err != nil {
		t.Errorf("LastError after a good reload: %v", err)
	}

	// A changed key file alone is a change too.
	certMod := modOf(t, pki.CertFile)
	pki.RotateServer(t)
	third := pki.ServerLeaf.SerialNumber
	touch(t, certMod, pki.CertFile)
	touch(t, base.Add(2*time.Minute), pki.KeyFile)
	clock.Advance(time.Second)
	wantSerial(t, served(t, r), third, "key file changed")

	// Unchanged files are not read again: with the same mtimes, new content
	// goes unnoticed until Reload.
	certMod, keyMod := modOf(t, pki.CertFile), modOf(t, pki.KeyFile)
	pki.RotateServer(t)
	fourth := pki.ServerLeaf.SerialNumber
	touch(t, certMod, pki.CertFile)
	touch(t, keyMod, pki.KeyFile)
	clock.Advance(time.Hour)
	wantSerial(t, served(t, r), third, "same mtimes")
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantSerial(t, served(t, r), fourth, "after Reload")
}

func TestReloaderKeepsCertificateOnFailedReload(t *testing.T) {
	pki := testpki.New(t)
	r, clock := newTestReloader(t, pki)
	good := pki.ServerLeaf.SerialNumber
	wantSerial(t, served(t, r), good, "at start")
	base := modOf(t, pki.CertFile)

	// A half-written rotation: garbage where the certificate was.
	if err := os.WriteFile(pki.CertFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, base.Add(time.Minute), pki.CertFile)
	clock.Advance(time.Second)
	wantSerial(t, served(t, r), good, "after a failed reload")
	err := r.LastError()
	if err == nil || !strings.Contains(err.Error(), pki.CertFile) {
		t.Fatalf("LastError = %v; want the failure naming %s", err, pki.CertFile)
	}
	// Still broken a second later: still the old certificate, still the error.
	clock.Advance(time.Second)
	wantSerial(t, served(t, r), good, "still broken")
	if r.LastError() == nil {
		t.Error("LastError cleared while the files are still broken")
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of a garbage certificate succeeded")
	}
	wantSerial(t, served(t, r), good, "after a failed Reload")

	// A missing key file fails the same way.
	pki.RotateServer(t)
	if err := os.Remove(pki.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || r.LastError() == nil {
		t.Errorf("Reload without a key file = %v, LastError %v", err, r.LastError())
	}
	clock.Advance(time.Second)
	wantSerial(t, served(t, r), good, "key file missing")

	// Repaired: Reload picks the new pair up at once, without the clock.
	pki.RotateServer(t)
	fixed := pki.ServerLeaf.SerialNumber
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	wantSerial(t, served(t, r), fixed, "after repair")
	if err := r.LastError(); err != nil {
		t.Errorf("LastError after a good reload: %v", err)
	}
}

func TestNewReloaderRefusesBadFiles(t *testing.T) {
	pki := testpki.New(t)
	other := pki.Client(t, "x.internal")
	if _, err := NewReloader(pki.CertFile, other.KeyFile); err == nil {
		t.Error("NewReloader accepted a key of another certificate")
	}
	if _, err := NewReloader(pki.CertFile, pki.KeyFile+".missing"); err == nil {
		t.Error("NewReloader accepted a missing key file")
	}
}

// TestReloaderConcurrent: handshakes read the certificate while rotations
// and reloads happen; every answer is one of the issued certificates.
func TestReloaderConcurrent(t *testing.T) {
	pki := testpki.New(t)
	r, clock := newTestReloader(t, pki)
	issued := map[string]bool{pki.ServerLeaf.SerialNumber.String(): true}
	var wg sync.WaitGroup
	seen := make([][]string, 8)
	for i := range seen {
		wg.Go(func() {
			for range 200 {
				clock.Advance(time.Second)
				c, err := r.GetCertificate(nil)
				if err != nil || c == nil || c.Leaf == nil {
					t.Errorf("GetCertificate = %v, %v", c, err)
					return
				}
				seen[i] = append(seen[i], c.Leaf.SerialNumber.String())
			}
		})
	}
	for range 5 {
		pki.RotateServer(t)
		issued[pki.ServerLeaf.SerialNumber.String()] = true
		_ = r.Reload() // may race a rename: a failure keeps the old pair
	}
	wg.Wait()
	for _, list := range seen {
		for _, s := range list {
			if !issued[s] {
				t.Fatalf("served serial %s was never issued", s)
			}
		}
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	wantSerial(t, served(t, r), pki.ServerLeaf.SerialNumber, "after the last rotation")
}
