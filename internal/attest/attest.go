// Package attest implements stytch.b2b.session.v1.SessionService: the Attest
// method, served by calling Stytch through the upstream client. Schema rules
// have been checked by the validate interceptor before a call gets here.
package attest

import (
	"context"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/upstream"
)

// Server serves SessionService by calling Stytch.
type Server struct {
	b2bsessionv1.UnimplementedSessionServiceServer
	upstream *upstream.Client
}

// New returns a Server calling Stytch through c.
func New(c *upstream.Client) *Server { return &Server{upstream: c} }

// Attest exchanges a trusted identity provider's token for a Stytch member
// session.
func (s *Server) Attest(ctx context.Context, req *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	return s.upstream.Attest(ctx, req)
}
