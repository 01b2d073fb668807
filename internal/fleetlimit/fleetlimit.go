// Package fleetlimit makes attestd's rate limits hold for a whole fleet of
// replicas: the limit's state lives in Redis, shared by every replica, and
// each replica keeps its own in-memory bucket at the full limit in front of
// it as a pre-check.
//
// The algorithm is GCRA, the generic cell rate algorithm (as in
// go-redis/redis_rate, written here): per key, Redis keeps one number, the
// theoretical arrival time (TAT) of the next call at the configured rate.
// A call is allowed when moving the TAT on by one emission interval
// (1/rate) leaves it at most burst intervals ahead of now; otherwise it is
// refused, takes nothing, and is told when it would fit. One Lua script
// (EVALSHA, EVAL once after a Redis restart) reads and moves the TAT
// atomically on Redis's own clock, so the replicas' clocks do not matter,
// and sets the key to expire when its bucket would be full again: Redis
// holds only callers seen recently.
//
// Redis is never what keeps a call waiting or failing: every operation has
// a short timeout, and on any error (down, slow, refusing, out of memory)
// the call is decided by the local bucket alone (fail open: each replica
// then allows what it would without Redis), with a counter, a latency
// histogram and at most one log line per ten seconds. go-redis reconnects
// by itself: while Redis cannot be dialled its pool fails fast and probes
// it in the background.
package fleetlimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultTimeout bounds each Redis operation when Options.Timeout is zero:
// far above a loopback or same-zone round trip (well under a millisecond),
// short enough that a hung Redis adds little to a call.
const DefaultTimeout = 50 * time.Millisecond

// errorLogEvery is the least time between two "Redis unavailable" log
// lines; the errors in between are counted in the next one.
const errorLogEvery = 10 * time.Second

// Decisions, the values of Observer.Decision's decision.
const (
	// Allowed: the local bucket and the fleet's both allowed the call.
	Allowed = "allowed"
	// Refused: the local bucket allowed it, the fleet's refused it.
	Refused = "refused"
	// LocalRefused: the local bucket refused it; Redis was not asked.
	LocalRefused = "local_refused"
	// FailOpen: Redis failed; the local bucket's allowance decided.
	FailOpen = "fail_open"
)

// Local is a per-process limiter used as the pre-check (internal/ratelimit):
// the same shape as the chain's middleware.Limiter.
type Local interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
}

// Observer is told of every Redis operation and every decision; metrics
// hang here. Its methods must be cheap and safe for concurrent use.
type Observer interface {
	// RedisOp reports one operation's latency and its error (nil: none).
	RedisOp(took time.Duration, err error)
	// FleetDecision reports one decision of the named limit ("caller",
	// "upstream"): Allowed, Refused, LocalRefused or FailOpen.
	FleetDecision(limit, decision string)
}

// Options configure a Store.
type Options struct {
	// URL is the Redis server: redis://[user:password@]host:port[/db] or
	// rediss:// for TLS.
	URL string
	// Password, when set, is used instead of the URL's.
	Password string
	// Timeout bounds each operation; 0 means DefaultTimeout.
	Timeout time.Duration
	// Prefix starts every key the Store writes (e.g. "attestd:<project>:").
	Prefix string
	// Log receives the rate-limited "Redis unavailable" lines; nil logs
	// nothing.
	Log *slog.Logger
	// Observe receives metrics; nil records nothing.
	Observe Observer
}

// Store is a connection pool to Redis and the limits kept there. It is
// safe for concurrent use; Close releases it.
type Store struct {
	client  *redis.Client
	timeout time.Duration
	prefix  string
	obs     Observer
	log     *slog.Logger

	logMu      sync.Mutex
	lastLogged time.Time
	unlogged   atomic.Int64 // errors since the last line
}

// quietRedis keeps go-redis's own logger (the standard library's log, to
// stderr, unstructured) silent: attestd reports Redis errors itself.
var quietRedis sync.Once

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// Dial parses the URL and prepares the pool. It does no I/O: connections
// are made by the first operations, so a Redis that is down at start-up
// delays nothing (calls run on the local limits until it is back).
func Dial(o Options) (*Store, error) {
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("not a redis:// or rediss:// URL: %w", stripURL(err))
	}
	if o.Password != "" {
		opts.Password = o.Password
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	// The context's deadline (the operation's timeout) bounds each network
	// read, write and dial, not go-redis's seconds-long defaults.
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = time.Second // the background reconnect probe's bound
	opts.ReadTimeout, opts.WriteTimeout = o.Timeout, o.Timeout
	opts.PoolTimeout = o.Timeout
	// One retry, at once: a pooled connection Redis closed (a restart)
	// fails its first use; the retry gets a fresh one. No backoff: the
	// timeout is the whole budget.
	opts.MaxRetries = 1
	opts.MinRetryBackoff, opts.MaxRetryBackoff = -1, -1
	// One dial per attempt: go-redis's default of five, 100 ms apart,
	// would hold a call ~0.4 s while Redis refuses connections.
	opts.DialerRetries = 1
	opts.DisableIdentity = true // no CLIENT SETINFO on each connection
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	quietRedis.Do(func() { redis.SetLogger(discard{}) })
	return &Store{
		client: redis.NewClient(opts), timeout: o.Timeout, prefix: o.Prefix, obs: o.Observe, log: o.Log,
	}, nil
}

// stripURL keeps a URL parse error from repeating the URL, which may hold
// a password.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Close closes the pool.
func (s *Store) Close() error { return s.client.Close() }

// Client is the underlying go-redis client (tests, benchmarks).
func (s *Store) Client() *redis.Client { return s.client }

// Limiter is one limit held fleet-wide: perSecond calls on average and
// burst at once per key, across every replica that uses the same Redis and
// prefix.
type Limiter struct {
	store    *Store
	name     string
	local    Local
	interval int64 // µs between calls at the rate, ≥ 1
	burst    int
}

// Limit returns the fleet-wide limit called name (it names the keys and
// the metric label), with local as its per-process pre-check: a call local
// refuses never reaches Redis. local should allow the same rate and burst,
// so that with Redis gone each replica allows what it would alone.
func (s *Store) Limit(name string, perSecond float64, burst int, local Local) *Limiter {
	interval := int64(math.Ceil(1e6 / perSecond))
	if interval < 1 || perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		interval = 1
	}
	return &Limiter{store: s, name: name, local: local, interval: interval, burst: max(burst, 1)}
}

// Allow takes one call from key's allowance: the local bucket's first,
// then the fleet's. It refuses with the longer of the waits either
// imposes; on a Redis error the local answer stands.
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration) {
	if ok, wait := l.local.Allow(ctx, key); !ok {
		l.decided(LocalRefused)
		return false, wait
	}
	ok, wait, err := l.store.gcra(ctx, l.store.prefix+l.name+":"+key, l.interval, l.burst)
	if err != nil {
		if ctx.Err() == nil { // the caller leaving is not Redis's fault
			l.store.failed(err)
		}
		l.decided(FailOpen)
		return true, 0
	}
	if !ok {
		l.decided(Refused)
		return false, wait
	}
	l.decided(Allowed)
	return true, 0
}

func (l *Limiter) decided(decision string) {
	if l.store.obs != nil {
		l.store.obs.FleetDecision(l.name, decision)
	}
}

// Key is the Redis key that holds key's state.
func (l *Limiter) Key(key string) string { return l.store.prefix + l.name + ":" + key }

//go:embed gcra.lua
var gcraSource string

// gcraScript is run by EVALSHA; go-redis falls back to EVAL (which loads
// it) when Redis does not know the hash, as after a restart.
var gcraScript = redis.NewScript(gcraSource)

// gcra runs the script for key within the timeout.
func (s *Store) gcra(ctx context.Context, key string, interval int64, burst int) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	res, err := gcraScript.Run(ctx, s.client, []string{key}, interval, burst).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("the GCRA script answered %d values, not 2", len(res))
	}
	if s.obs != nil {
		s.obs.RedisOp(time.Since(start), err)
	}
	if err != nil {
		return false, 0, err
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// failed logs a Redis error, at most once per errorLogEvery, with the
// number of errors since the previous line.
func (s *Store) failed(err error) {
	n := s.unlogged.Add(1)
	if s.log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	now := time.Now()
	if !s.lastLogged.IsZero() && now.Sub(s.lastLogged) < errorLogEvery {
		return
	}
	n = s.unlogged.Swap(0)
	s.lastLogged = now
	s.log.Warn("Redis unavailable: fleet-wide limits fall back to this replica's own",
		"error", err.Error(), "errors", n, "per", errorLogEvery.String())
}
