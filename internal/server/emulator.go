package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/attestd/attestd/emulator"
	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
	"github.com/attestd/attestd/internal/config"
)

// target is the Stytch API attestd calls and the credentials it calls with.
type target struct {
	baseURL, projectID, secret string
}

// startEmulator runs the embedded Stytch emulator for emulator mode and
// returns it with the target that reaches it over real HTTP, so attestd's
// path (client, JSON, translation) is the same as against Stytch.
func startEmulator(cfg config.Config, log *slog.Logger) (*emulator.Listener, target, error) {
	var s *seed.Seed // nil: the demo seed
	if cfg.EmulatorSeed != "" {
		var err error
		if s, err = seed.Load(cfg.EmulatorSeed); err != nil {
			return nil, target{}, &config.Error{Setting: "ATTESTD_EMULATOR_SEED", Problem: err.Error()}
		}
	}
	emu, err := emulator.New(emulator.Options{Seed: s, Log: log.With("component", "emulator")})
	if err != nil {
		return nil, target{}, fmt.Errorf("embedded emulator: %w", err)
	}
	lis, err := emu.Listen(cfg.EmulatorAddr)
	if err != nil {
		return nil, target{}, fmt.Errorf("ATTESTD_EMULATOR_ADDR: %w", err)
	}
	// attestd calls as the seed's first project: the demo credentials
	// unless the seed names its own.
	seedName, up := "demo seed", target{baseURL: lis.URL(), projectID: demo.ProjectID, secret: demo.Secret}
	if s != nil {
		seedName = cfg.EmulatorSeed
		if p := s.Projects[0]; p.ProjectID != "" {
			up.projectID, up.secret = p.ProjectID, p.Secret
		}
	}
	log.Warn("emulator mode — not for production: no Stytch credentials, so attestd answers from an embedded Stytch emulator",
		"emulator_url", lis.URL(),
		"seed", seedName,
		"project_id", up.projectID,
		"demo_profile_id", demo.ProfileID,
		"demo_organization_id", demo.OrganizationID,
		"hint", "mint a request with: attestd demo-token --request")
	return lis, up, nil
}

// stopEmulator shuts the embedded emulator down after the API listeners,
// whose last calls may still need it.
func stopEmulator(ctx context.Context, l *emulator.Listener) error {
	if l == nil {
		return nil
	}
	return l.Shutdown(ctx)
}
