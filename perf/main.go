// Command perf is attestd's benchmark harness. `go run ./perf` builds
// attestd and measures, back to back in one run on loopback, against one
// fixed-response upstream serving Stytch's typical answer: the upstream
// alone, nginx as a reverse proxy, attestd over REST and attestd over gRPC.
// It prints one table with throughput, latency, attestd's CPU per 1000
// requests and peak RSS, and the ratios to nginx and to the upstream.
//
// Subcommands used by the harness itself: `upstream` (the fixed-response
// server) and `grpc-load` (a gRPC load generator).
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
