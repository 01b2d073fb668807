package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
	"github.com/attestd/attestd/internal/server"
	"github.com/attestd/attestd/internal/version"
)

// run dispatches on the subcommand; without one it is the service.
// --version (or -version) prints the build's version, commit and Go version.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version":
			fmt.Fprintln(stdout, version.Get())
			return 0
		case "emulator":
			return runEmulator(ctx, args[1:], getenv, stdout, stderr)
		case "demo-token":
			return runDemoToken(args[1:], stdout, stderr)
		}
	}
	return server.Run(ctx, args, getenv, stdout, stderr)
}

// usageError prints one line and returns the exit code of bad usage.
func usageError(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "attestd %s: %v\n", cmd, err)
	return 2
}

// parseError answers a subcommand's flag-parsing error: for -h, -help or
// --help its usage on stdout and exit 0; otherwise one line and exit 2.
func parseError(fs *flag.FlagSet, err error, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "Usage: %s [flags]\n\nFlags:\n", fs.Name())
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	}
	return usageError(stderr, strings.TrimPrefix(fs.Name(), "attestd "), err)
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("attestd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// runEmulator serves the Stytch emulator on its own until ctx is done, for
// other services' tests and for Stytch's SDKs.
func runEmulator(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newFlags("emulator")
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	projectID := fs.String("project-id", getenv("STYTCH_PROJECT_ID"), "project ID of seed projects that name none (STYTCH_PROJECT_ID; default the demo's)")
	secret := fs.String("secret", getenv("STYTCH_SECRET"), "their secret (STYTCH_SECRET; default the demo's)")
	seedFile := fs.String("seed", getenv("ATTESTD_EMULATOR_SEED"), "seed file, JSON or YAML (ATTESTD_EMULATOR_SEED; default the demo seed)")
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err, stdout, stderr)
	}
	var s *seed.Seed
	if *seedFile != "" {
		var err error
		if s, err = seed.Load(*seedFile); err != nil {
			return usageError(stderr, "emulator", err)
		}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	emu, err := emulator.New(emulator.Options{ProjectID: *projectID, Secret: *secret, Seed: s, Log: log})
	if err != nil {
		return usageError(stderr, "emulator", err)
	}
	lis, err := emu.Listen(*addr)
	if err != nil {
		return usageError(stderr, "emulator", err)
	}
	log.Warn("Stytch emulator serving — not for production", "url", lis.URL(), "projects", emu.ProjectIDs())
	select {
	case err = <-lis.Done():
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = lis.Shutdown(sctx)
		cancel()
	}
	if err != nil {
		log.Error("emulator stopped", "error", err.Error())
		return 1
	}
	log.Info("emulator stopped")
	return 0
}

// runDemoToken prints a token signed by a demo profile's key, or with
// --request a whole Attest request body for `curl -d @-`.
func runDemoToken(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo-token")
	var o demo.TokenOptions
	fs.StringVar(&o.Email, "email", demo.Email, "member email")
	fs.StringVar(&o.Organization, "org", demo.OrganizationID, "organization ID, slug or external ID")
	fs.StringVar(&o.Profile, "profile", demo.ProfileID, "demo profile: "+demo.ProfileID+" or "+demo.JITProfileID+" (JIT provisioning)")
	fs.DurationVar(&o.TTL, "ttl", 5*time.Minute, "token lifetime")
	roles := fs.String("roles", "", "comma-separated role IDs for the roles claim")
	request := fs.Bool("request", false, "print a complete Attest request body instead of the bare token")
	if err := fs.Parse(args); err != nil {
		return parseError(fs, err, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "demo-token", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *roles != "" {
		o.Roles = strings.Split(*roles, ",")
	}
	token, orgID, err := demo.Token(o)
	if err != nil {
		return usageError(stderr, "demo-token", err)
	}
	if !*request {
		fmt.Fprintln(stdout, token)
		return 0
	}
	b, _ := json.Marshal(map[string]string{"profile_id": o.Profile, "token": token, "organization_id": orgID})
	fmt.Fprintln(stdout, string(b))
	return 0
}
