// Package attack is attestd's attack and chaos suite: each test attacks one
// class of weakness of the built attestd binary (no race detector: its
// memory figures would mean nothing) on loopback, either in front of a
// misbehaving Stytch implemented in the test process with httptest (speaking
// Stytch's real wire format, see internal/stytchtest) or in emulator mode.
// Tests synchronise on events (log lines, /readyz, /metrics on the admin
// port), bound every loop in count and time, assert values, and report their
// figures (peak RSS from /proc/<pid>/status, durations, counts) with t.Logf.
//
// The classes, one test each:
//
//   - TestBreakerCallerDeadlines: callers' own deadlines (gRPC 1 ms,
//     REST `Grpc-Timeout: 1m`) against a healthy Stytch never open the
//     circuit breaker: no 503 upstream_circuit_open, normal calls succeed
//     afterwards, attestd_upstream_breaker_state is 0. And against a hung
//     Stytch with ATTESTD_BREAKER_SLOW_CALL=200ms, calls ended by 600 ms
//     caller deadlines still open it (state 2; later calls get 503
//     upstream_circuit_open / Unavailable at once).
//   - TestNestingAmplification: 64 concurrent REST bodies of about 60 KB
//     nested as deep as they can be, plus as many gRPC messages whose
//     google.protobuf.Struct is nested thousands deep (raw protobuf, raw
//     codec), for several rounds: each refused 400 bad_request /
//     InvalidArgument naming the depth limit; peak RSS within 128 MiB of
//     idle; normal calls answered meanwhile.
//   - TestClampedDurations: Stytch's 429 with an overflowing, far-future,
//     negative or garbage Retry-After: REST Retry-After a positive integer
//     ≤ 3600 (or absent for the unreadable ones), gRPC RetryInfo in (0, 1h],
//     answered promptly.
//   - TestSlowReadersAtShutdown: pipelining raw-TCP clients that never read
//     (small socket buffers) until their writes block; SIGTERM with a 1 s
//     grace exits 0 within the grace plus a few seconds and logs how many
//     connections it closed; with ATTESTD_WRITE_TIMEOUT=300ms such
//     connections are cut long before shutdown.
//   - TestTooLargeWriteFirst: a client that writes a 2 MiB body before
//     reading (raw TCP with Content-Length and chunked, and Debian's Python
//     urllib) reads 413 request_too_large, not a reset.
//   - TestUpstreamOddStatuses: Stytch answering 307, 302 elsewhere, 202,
//     204, 101 or an HTML 404/503: REST 502 upstream_error in Stytch's
//     shape, gRPC Unavailable; redirects never followed.
//   - TestBoundedErrorSizes: a Stytch error of about 1 MB: REST body and
//     gRPC status each ≤ 8 KiB, still Stytch's error with its error_type;
//     Python grpcio receives it without a stream reset.
//   - TestWrongStytchSecret: Stytch's 401 unauthorized_credentials gives
//     callers attestd's 5xx upstream_credentials_rejected, makes /readyz 503
//     and shows in the metrics; readiness returns by itself once Stytch
//     accepts again; Stytch's other 4xx never make attestd unready.
//   - TestBadGRPCBytes: invalid UTF-8 in a string field and non-protobuf
//     bytes get InvalidArgument (not Internal), logged (the audit event)
//     and counted.
//   - TestLogFlood: 1000+ calls refused the same way (rate limit) write a
//     bounded number of "call" lines; the `suppressed` counts make up the
//     difference exactly.
//   - TestTrailingData: a REST body with a second JSON value or garbage
//     after the first gets 400 bad_request and never reaches Stytch.
//
// Two sizes. The short one is part of `make test` and keeps the whole
// package well under two minutes on two cores:
//
//	make attack-short          # go test -count=1 -timeout 10m ./attack
//	go test -count=1 -v ./attack -run TestLogFlood
//
// The full one raises counts, concurrency and rounds (flag -attack.full,
// defined here):
//
//	make attack                # go test -count=1 -timeout 30m -v ./attack -args -attack.full
//
// Python cases need Debian's /usr/bin/python3 with python3-grpcio and
// python3-protobuf (.ci/deps installs them); they fail, never skip, without
// it.
package attack
