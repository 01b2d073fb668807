package observe

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin is the operators' listener, apart from the API ports: /metrics,
// /healthz (liveness: the process answers; never depends on Stytch),
// /readyz (readiness: configuration loaded, listeners up, not shutting
// down) and, when enabled, /debug/pprof/.
type Admin struct {
	srv   *http.Server
	lis   net.Listener
	ready atomic.Bool
	done  chan error
}

// NewAdmin binds addr and starts serving m's registry.
func NewAdmin(addr string, m *Metrics, withPprof bool) (*Admin, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &Admin{lis: lis, done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		err := a.srv.Serve(lis)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	return a, nil
}

// Addr is the bound address.
func (a *Admin) Addr() net.Addr { return a.lis.Addr() }

// SetReady flips /readyz.
func (a *Admin) SetReady(ready bool) { a.ready.Store(ready) }

// Close stops the listener at once: it serves no call that needs draining.
func (a *Admin) Close() error {
	err := a.srv.Close()
	<-a.done
	return err
}
