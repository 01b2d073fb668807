// Command attestd serves Stytch's B2B session attestation over gRPC and REST.
// `attestd emulator` serves the Stytch emulator on its own, and
// `attestd demo-token` mints tokens the emulator's demo profiles accept;
// `attestd --version` prints the version, commit and Go version.
// See the README for configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
