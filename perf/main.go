// Command perf is attestd's benchmark harness. `go run ./perf` builds
// attestd and measures, back to back in one run on loopback, against one
// fixed-response upstream serving Stytch's typical answer: the upstream
// alone, nginx as a reverse proxy, the floor (a minimal Go byte
// pass-through), Go's httputil.ReverseProxy, attestd over REST and attestd
// over gRPC. It prints one table, the median of -runs runs, with
// throughput, latency, each proxy's CPU per 1000 requests and peak RSS, the
// ratios to nginx and to the upstream, and CPU as a multiple of the floor's.
// It stops every process it started, also on error and on Ctrl-C.
//
// Subcommands used by the harness itself: `upstream` (the fixed-response
// server), `floor` and `revproxy` (the Go reference proxies) and
// `grpc-load` (a gRPC load generator).
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "upstream":
		err = runUpstream(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "floor":
		err = runFloor(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "revproxy":
		err = runRevProxy(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "grpc-load":
		err = runGRPCLoad(os.Args[2:])
	default:
		err = runHarness(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}
