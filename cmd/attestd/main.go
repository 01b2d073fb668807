// Command attestd serves Stytch's B2B session attestation over gRPC and REST.
// See the README for configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/attestd/attestd/service/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
