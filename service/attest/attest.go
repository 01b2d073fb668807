// Package attest implements stytch.b2b.session.v1.SessionService: the Attest
// method, which checks what the schema cannot express and hands the call to
// the upstream Stytch client.
package attest

import (
	"context"
	"fmt"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/service/apierr"
	"github.com/attestd/attestd/service/upstream"
)

// MaxCustomClaimsBytes is Stytch's cap on session_custom_claims as JSON.
const MaxCustomClaimsBytes = 4096

// Server serves SessionService by calling Stytch.
type Server struct {
	b2bsessionv1.UnimplementedSessionServiceServer
	upstream *upstream.Client
}

// New returns a Server calling Stytch through c.
func New(c *upstream.Client) *Server { return &Server{upstream: c} }

// Attest exchanges a trusted identity provider's token for a Stytch member
// session. Schema rules have already been checked by the validate interceptor.
func (s *Server) Attest(ctx context.Context, req *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	if err := checkCustomClaims(req); err != nil {
		return nil, err
	}
	return s.upstream.Attest(ctx, req)
}

// checkCustomClaims enforces Stytch's 4 KB limit on session_custom_claims,
// which protovalidate cannot express (it needs the serialized size).
func checkCustomClaims(req *b2bsessionv1.AttestRequest) error {
	claims := req.GetSessionCustomClaims()
	if claims == nil {
		return nil
	}
	b, err := upstream.EncodeClaims(claims)
	if err != nil {
		return apierr.BadRequest.Wrap(err, "session_custom_claims cannot be represented as JSON")
	}
	if len(b) > MaxCustomClaimsBytes {
		return apierr.CustomClaimsTooLarge.New(fmt.Sprintf("session_custom_claims is %d bytes as JSON; the limit is %d", len(b), MaxCustomClaimsBytes))
	}
	return nil
}
