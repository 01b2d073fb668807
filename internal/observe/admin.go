package observe

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"sync"
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
	note  atomic.Pointer[string]
	done  chan error

	mu sync.Mutex
	// unready names what keeps a serving attestd unready (e.g. Stytch
	// rejecting its credentials), with why.
	unready map[string]string
}

// NewAdmin binds addr and starts serving m's registry.
func NewAdmin(addr string, m *Metrics, withPprof bool) (*Admin, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &Admin{lis: lis, done: make(chan error, 1), unready: map[string]string{}}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if why := a.notReady(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		body := "ready\n"
		if note := a.note.Load(); note != nil {
			body = "ready (" + *note + ")\n"
		}
		_, _ = w.Write([]byte(body))
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

// SetReady flips /readyz: whether attestd is serving at all (false before
// start and from the start of shutdown).
func (a *Admin) SetReady(ready bool) { a.ready.Store(ready) }

// SetNote labels a ready /readyz answer: "ready (note)". Emulator mode
// says it is one, so a probe's body tells a development replica apart.
func (a *Admin) SetNote(note string) { a.note.Store(&note) }

// SetCondition records one condition readiness depends on besides serving:
// while any is false, /readyz answers 503 with the reasons. name identifies
// the condition, why says what is wrong (ignored when ok).
func (a *Admin) SetCondition(name string, ok bool, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		delete(a.unready, name)
	} else {
		a.unready[name] = why
	}
}

// notReady lists the failing conditions, "" when there are none.
func (a *Admin) notReady() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	whys := make([]string, 0, len(a.unready))
	for name, why := range a.unready {
		whys = append(whys, name+": "+why)
	}
	slices.Sort(whys)
	return strings.Join(whys, "; ")
}

// Close stops the listener at once: it serves no call that needs draining.
func (a *Admin) Close() error {
	err := a.srv.Close()
	<-a.done
	return err
}
