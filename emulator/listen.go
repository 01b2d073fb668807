package emulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Listener is an Emulator served over HTTP on a real socket.
type Listener struct {
	srv  *http.Server
	lis  net.Listener
	done chan error
}

// Listen serves e on addr ("127.0.0.1:0" picks a free loopback port).
func (e *Emulator) Listen(addr string) (*Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &Listener{
		srv: &http.Server{
			Handler:           e,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			// Its answers take no upstream call long enough to matter: one
			// bound covers handling and writing, so a caller that never
			// reads cannot hold a connection.
			WriteTimeout: 30 * time.Second,
			IdleTimeout:  2 * time.Minute,
		},
		lis:  lis,
		done: make(chan error, 1),
	}
	go func() {
		err := l.srv.Serve(lis)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.done <- err
	}()
	return l, nil
}

// URL is the base URL to give Stytch clients, e.g. http://127.0.0.1:4321.
func (l *Listener) URL() string {
	a := l.lis.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// Done reports the server stopping on its own (nil after Shutdown).
func (l *Listener) Done() <-chan error { return l.done }

// Shutdown stops taking connections and waits for in-flight calls until
// ctx ends, then closes the rest.
func (l *Listener) Shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
	}
	return err
}
