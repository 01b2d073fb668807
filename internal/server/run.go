package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/attestd/attestd/internal/config"
)

// Run is attestd's whole life: read the configuration, serve until ctx is
// done (SIGTERM/SIGINT), shut down gracefully. It returns the exit code.
// Configuration problems are one line on stderr naming the setting.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		config.Usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "attestd: invalid configuration: %v\n", err)
		return 2
	}
	log := NewLogger(cfg, stderr)
	applyMemoryLimit(getenv, log)
	s, err := Start(ctx, cfg, log)
	var cfgErr *config.Error
	if errors.As(err, &cfgErr) { // e.g. a malformed emulator seed
		fmt.Fprintf(stderr, "attestd: invalid configuration: %v\n", cfgErr)
		return 2
	}
	if err != nil {
		log.Error("attestd cannot start", "error", err.Error())
		return 1
	}
	stopHUP := reloadOnSIGHUP(s, log)
	defer stopHUP()
	if err := s.Wait(ctx); err != nil {
		log.Error("listener failed", "error", err.Error())
		_ = s.Shutdown()
		return 1
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	if err := s.Shutdown(); err != nil {
		log.Error("unclean shutdown", "error", err.Error())
		return 1
	}
	log.Info("stopped")
	return 0
}

// reloadOnSIGHUP reloads the TLS certificate, the caller tokens and the
// Stytch secret file on SIGHUP (they are also re-read on their own when
// they change). It returns the stop function.
func reloadOnSIGHUP(s *Server, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := s.ReloadTLS(); err != nil {
					log.Error("TLS reload failed; the previous certificate stays in use", "error", err.Error())
				} else if s.reloader != nil {
					log.Info("TLS certificate reloaded")
				}
				_ = s.ReloadFiles() // each reload is logged as it happens
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// NewLogger builds the structured logger the configuration asks for.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.Level() // validated by config.Load
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
