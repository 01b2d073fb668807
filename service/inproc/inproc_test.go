package inproc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/attestd/attestd/service/inproc"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// accept runs Accept in the background.
func accept(l *inproc.Listener) <-chan result {
	ch := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		ch <- result{c, err}
	}()
	return ch
}

type result struct {
	conn net.Conn
	err  error
}

func await(t *testing.T, ctx context.Context, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatal("Accept did not return")
		return result{}
	}
}

func TestDialAccept(t *testing.T) {
	ctx := testCtx(t)
	l := inproc.NewListener()
	defer l.Close()
	if l.Addr().Network() != "inproc" || l.Addr().String() != "inproc" {
		t.Errorf("Addr = %s/%s", l.Addr().Network(), l.Addr().String())
	}
	accepted := accept(l)
	client, err := l.Dial(ctx, "ignored")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer client.Close()
	r := await(t, ctx, accepted)
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	server := r.conn
	defer server.Close()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))

	// Both directions carry bytes.
	go func() { _, _ = client.Write([]byte("ping")) }()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	go func() { _, _ = server.Write([]byte("pong")) }()
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	// Closing one end ends the other's reads.
	client.Close()
	if _, err := server.Read(buf); !errors.Is(err, io.EOF) {
		t.Errorf("read after the peer closed: %v", err)
	}
}

func TestEachDialIsItsOwnConnection(t *testing.T) {
	ctx := testCtx(t)
	l := inproc.NewListener()
	defer l.Close()
	for i := range 3 {
		accepted := accept(l)
		c, err := l.Dial(ctx, "")
		if err != nil {
			t.Fatalf("Dial %d: %v", i, err)
		}
		r := await(t, ctx, accepted)
		if r.err != nil {
			t.Fatalf("Accept %d: %v", i, r.err)
		}
		go func() { _, _ = c.Write([]byte{byte(i)}) }()
		b := make([]byte, 1)
		_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(r.conn, b); err != nil || b[0] != byte(i) {
			t.Errorf("connection %d read %v, %v", i, b, err)
		}
		c.Close()
		r.conn.Close()
	}
}

func TestClose(t *testing.T) {
	ctx := testCtx(t)
	l := inproc.NewListener()
	waiting := accept(l) // blocked in Accept when Close comes
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := await(t, ctx, waiting); !errors.Is(r.err, net.ErrClosed) || r.conn != nil {
		t.Errorf("pending Accept after Close = %v, %v; want net.ErrClosed", r.conn, r.err)
	}
	if c, err := l.Accept(); !errors.Is(err, net.ErrClosed) || c != nil {
		t.Errorf("Accept after Close = %v, %v; want net.ErrClosed", c, err)
	}
	if c, err := l.Dial(ctx, ""); !errors.Is(err, net.ErrClosed) || c != nil {
		t.Errorf("Dial after Close = %v, %v; want net.ErrClosed", c, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDialHonoursContext(t *testing.T) {
	l := inproc.NewListener() // nobody accepts
	defer l.Close()

	canceled, cancel := context.WithCancel(testCtx(t))
	cancel()
	if c, err := l.Dial(canceled, ""); !errors.Is(err, context.Canceled) || c != nil {
		t.Errorf("Dial with a canceled context = %v, %v", c, err)
	}

	// Canceled while waiting for Accept.
	waiting, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := l.Dial(waiting, "")
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Dial canceled while waiting = %v", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("Dial ignored the canceled context")
	}

	short, cancel := context.WithTimeout(testCtx(t), time.Millisecond)
	defer cancel()
	if _, err := l.Dial(short, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial past its deadline = %v", err)
	}

	// A Dial given up on leaves no connection behind for Accept.
	ctx := testCtx(t)
	accepted := accept(l)
	c, err := l.Dial(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := await(t, ctx, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.conn.Close()
	go func() { _, _ = c.Write([]byte("x")) }()
	b := make([]byte, 1)
	_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r.conn, b); err != nil || b[0] != 'x' {
		t.Errorf("Accept returned an abandoned connection: %q, %v", b, err)
	}
}

func TestCredentials(t *testing.T) {
	ctx := testCtx(t)
	creds := inproc.Credentials(insecure.NewCredentials())

	// An in-process connection skips the handshake and is marked.
	l := inproc.NewListener()
	defer l.Close()
	accepted := accept(l)
	client, err := l.Dial(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r := await(t, ctx, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.conn.Close()
	conn, info, err := creds.ServerHandshake(r.conn)
	if err != nil {
		t.Fatalf("ServerHandshake(inproc): %v", err)
	}
	if conn != r.conn {
		t.Error("ServerHandshake wrapped the in-process connection")
	}
	ai, ok := info.(inproc.AuthInfo)
	if !ok {
		t.Fatalf("AuthInfo is %T, want inproc.AuthInfo", info)
	}
	if ai.AuthType() != "inproc" || ai.SecurityLevel != credentials.PrivacyAndIntegrity {
		t.Errorf("AuthInfo %q, security level %v", ai.AuthType(), ai.SecurityLevel)
	}

	// Any other connection goes to the external credentials.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	conn, info, err = creds.ServerHandshake(a)
	if err != nil {
		t.Fatalf("ServerHandshake(pipe): %v", err)
	}
	if _, ok := info.(inproc.AuthInfo); ok {
		t.Fatal("a network connection was marked in-process")
	}
	if info.AuthType() != "insecure" || conn != a {
		t.Errorf("external handshake gave %q, %v", info.AuthType(), conn)
	}
	// The client end of an in-process Dial is not the server end either.
	if _, info, err := creds.ServerHandshake(client); err != nil {
		t.Fatal(err)
	} else if _, ok := info.(inproc.AuthInfo); ok {
		t.Error("the client end of an in-process connection was marked in-process")
	}

	if _, _, err := creds.ClientHandshake(ctx, "x", a); err == nil {
		t.Error("ClientHandshake succeeded on server-side credentials")
	}
	if creds.Info().SecurityProtocol != insecure.NewCredentials().Info().SecurityProtocol {
		t.Errorf("Info = %+v", creds.Info())
	}
	clone := creds.Clone()
	if _, info, err := clone.ServerHandshake(r.conn); err != nil {
		t.Fatal(err)
	} else if _, ok := info.(inproc.AuthInfo); !ok {
		t.Errorf("Clone lost the in-process rule: %T", info)
	}
}
