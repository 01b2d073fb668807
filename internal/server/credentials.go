package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/observe"
	"github.com/attestd/attestd/internal/upstream"
)

// credentialsProbeEvery is how often Stytch is asked again while it rejects
// attestd's credentials: readiness comes back within it once they work.
const credentialsProbeEvery = 5 * time.Second

// credentialsCondition names the readiness condition on /readyz.
const credentialsCondition = "stytch_credentials"

// credentialsWatch turns Stytch's verdict on attestd's own project
// credentials into readiness (/readyz and the service's gRPC health), an
// error log, and (through observe) a metric; while they are rejected it asks
// Stytch again every credentialsProbeEvery, with no caller needed.
type credentialsWatch struct {
	log       *slog.Logger
	projectID string
	// ctx ends at close, and with it the probing and any check under way.
	ctx  context.Context
	stop context.CancelFunc
	done sync.WaitGroup

	mu     sync.Mutex
	admin  *observe.Admin // nil when the admin listener is off
	health *health.Server // nil until serving
}

func newCredentialsWatch(log *slog.Logger, projectID string) *credentialsWatch {
	ctx, stop := context.WithCancel(context.Background())
	return &credentialsWatch{log: log, projectID: projectID, ctx: ctx, stop: stop}
}

// changed is upstream.Options.OnCredentials: it must not block.
func (w *credentialsWatch) changed(rejected bool) {
	if rejected {
		w.log.Error("Stytch rejects attestd's project credentials: attestd is misconfigured and reports itself unready until Stytch accepts them",
			"project_id", w.projectID, "hint", "check STYTCH_PROJECT_ID and STYTCH_SECRET (or STYTCH_SECRET_FILE)")
	} else {
		w.log.Info("Stytch accepts attestd's project credentials again", "project_id", w.projectID)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.apply(rejected)
}

// apply sets readiness from the verdict (w.mu held); before serving there
// is nothing to set yet, and run applies the verdict then.
func (w *credentialsWatch) apply(rejected bool) {
	if w.admin != nil {
		w.admin.SetCondition(credentialsCondition, !rejected, "Stytch rejects attestd's project credentials (upstream_credentials_rejected)")
	}
	if w.health != nil {
		st := grpc_health_v1.HealthCheckResponse_SERVING
		if rejected {
			st = grpc_health_v1.HealthCheckResponse_NOT_SERVING
		}
		// The service's status only: "" stays SERVING, so a liveness probe
		// on it does not restart a process that only needs its secret fixed.
		w.health.SetServingStatus(b2bsessionv1.SessionService_ServiceDesc.ServiceName, st)
	}
}

// run starts readiness reporting once attestd serves, and asks Stytch again
// every credentialsProbeEvery while it rejects the credentials, until close.
// No check is made while they work: callers' own calls tell.
func (w *credentialsWatch) run(client *upstream.Client, admin *observe.Admin, hs *health.Server) {
	w.mu.Lock()
	w.admin, w.health = admin, hs
	w.apply(client.CredentialsRejected())
	w.mu.Unlock()
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(credentialsProbeEvery)
		defer t.Stop()
		for {
			select {
			case <-w.ctx.Done():
				return
			case <-t.C:
				if client.CredentialsRejected() {
					ctx, cancel := context.WithTimeout(w.ctx, credentialsProbeEvery)
					_ = client.CheckCredentials(ctx) // a verdict arrives through changed
					cancel()
				}
			}
		}
	}()
}

// close stops the probing and waits for it.
func (w *credentialsWatch) close() {
	w.stop()
	w.done.Wait()
}
