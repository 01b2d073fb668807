package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
	"github.com/attestd/attestd/internal/apierr"
	"github.com/attestd/attestd/internal/jsonlimit"
)

// Limits Stytch documents for attest.
const (
	minDurationMinutes     = 5
	maxDurationMinutes     = 527040 // 366 days
	defaultDurationMinutes = 60     // B2B attest creates a session even when omitted
	maxCustomClaimsBytes   = 4096
	maxRequestBytes        = 1 << 20
	sessionJWTLifetime     = 5 * time.Minute
)

// reservedClaims are ignored in session_custom_claims (Stytch: silently).
var reservedClaims = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true}

// attestRequest is Stytch's AttestRequest; null and absent are the same.
type attestRequest struct {
	ProfileID              *string         `json:"profile_id"`
	Token                  *string         `json:"token"`
	OrganizationID         *string         `json:"organization_id"`
	SessionDurationMinutes *int64          `json:"session_duration_minutes"`
	SessionCustomClaims    json.RawMessage `json:"session_custom_claims"`
	SessionToken           *string         `json:"session_token"`
	SessionJWT             *string         `json:"session_jwt"`
	TelemetryID            *string         `json:"telemetry_id"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// call is one attest in progress: the parsed request and what it resolved.
type call struct {
	req      attestRequest
	duration time.Duration
	claims   map[string]any // the session_custom_claims object; nil when absent
	profile  *profile
	identity *trustedtoken.Identity
}

func (e *Emulator) attest(w http.ResponseWriter, r *http.Request) {
	p, aerr := e.authenticate(r)
	if aerr != nil {
		e.fail(w, r, "", aerr)
		return
	}
	body, aerr := e.attestBody(r, p)
	if aerr != nil {
		e.fail(w, r, p.env, aerr)
		return
	}
	writeBytes(w, http.StatusOK, body)
}

// attestBody runs the whole exchange and returns the JSON answer.
func (e *Emulator) attestBody(r *http.Request, p *project) ([]byte, *apiError) {
	c, aerr := parseRequest(r)
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	c.profile = p.profiles[str(c.req.ProfileID)]
	e.mu.Unlock()
	if c.profile == nil {
		return nil, errorf(apierr.TypeTrustedTokenProfileNotFound, "Trusted token profile %s could not be found.", str(c.req.ProfileID))
	}
	// Verification may fetch a JWKS: done outside the state lock.
	id, f := c.profile.verifier.Verify(r.Context(), str(c.req.Token))
	if f != nil {
		return nil, fromFailure(f)
	}
	c.identity = id

	e.mu.Lock()
	defer e.mu.Unlock()
	org, aerr := p.resolveOrganization(c)
	if aerr != nil {
		return nil, aerr
	}
	// Every check runs before any state changes, so a failed attest leaves
	// no member created or activated and no session touched.
	now := e.stamp()
	member, isNew, aerr := p.member(c, org, now)
	if aerr != nil {
		return nil, aerr
	}
	s, aerr := e.existingSession(p, c, member, now)
	if aerr != nil {
		return nil, aerr
	}
	claims, aerr := mergeClaims(s, c.claims)
	if aerr != nil {
		return nil, aerr
	}
	if isNew {
		p.members[memberKey(org.OrganizationID, member.EmailAddress)] = member
	} else if member.Status == "invited" || member.Status == "pending" {
		member.Status, member.UpdatedAt = "active", &now // first authentication activates
	}
	s = e.upsertSession(p, s, c, org, member, claims, now, r)
	jwt, err := e.sessionJWT(p, s, org, now)
	if err != nil {
		return nil, errorf(apierr.TypeInternal, "The session JWT could not be signed.")
	}
	resp := wire.AttestResponse{
		RequestID:     newID("request-id", p.env),
		MemberID:      member.MemberID,
		MemberSession: s.state,
		SessionToken:  s.token,
		SessionJWT:    jwt,
		Member:        *member,
		Organization:  org.Organization,
		StatusCode:    http.StatusOK,
	}
	b, err := json.Marshal(&resp) // under the lock: no copy of the state is needed
	if err != nil {
		return nil, errorf(apierr.TypeInternal, "The emulator could not encode its answer.")
	}
	e.log.Info("emulator call", "method", r.Method, "path", r.URL.Path, "status", http.StatusOK,
		"request_id", resp.RequestID, "member_id", member.MemberID, "member_session_id", s.state.MemberSessionID)
	return b, nil
}

// parseRequest decodes and checks the body: everything that needs no state.
func parseRequest(r *http.Request) (*call, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return nil, errorf(apierr.TypeBadRequest, "The request body could not be read.")
	}
	if len(raw) > maxRequestBytes {
		return nil, errorf(apierr.TypeBadRequest, "The request body is larger than %d bytes.", maxRequestBytes)
	}
	// Bound nesting before decoding: encoding/json recurses per level (up
	// to 10 000), which a body of a few KB can make cost megabytes of stack.
	if jsonlimit.Check(raw, jsonlimit.MaxDepth) != nil {
		return nil, errorf(apierr.TypeBadRequest, "The request body nests objects and arrays deeper than %d levels.", jsonlimit.MaxDepth)
	}
	c := &call{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c.req); err != nil {
		return nil, errorf(apierr.TypeBadRequest, "The request body is not a valid attest request: %s", jsonProblem(err))
	}
	if dec.More() {
		return nil, errorf(apierr.TypeBadRequest, "The request body has data after the JSON object.")
	}
	q := &c.req
	switch {
	case str(q.ProfileID) == "":
		return nil, errorf(apierr.TypeBadRequest, "profile_id is a required field.")
	case str(q.Token) == "":
		return nil, errorf(apierr.TypeBadRequest, "token is a required field.")
	case str(q.SessionToken) != "" && str(q.SessionJWT) != "":
		return nil, errorf(apierr.TypeTooManySessionArguments, "Only one of session_token and session_jwt may be provided.")
	}
	minutes := int64(defaultDurationMinutes)
	if q.SessionDurationMinutes != nil {
		minutes = *q.SessionDurationMinutes
		if minutes < minDurationMinutes || minutes > maxDurationMinutes {
			return nil, errorf(apierr.TypeInvalidSessionDurationMinutes, "session_duration_minutes must be between %d and %d.", minDurationMinutes, maxDurationMinutes)
		}
	}
	c.duration = time.Duration(minutes) * time.Minute
	if id := str(q.OrganizationID); id != "" && !strings.HasPrefix(id, "organization-") {
		return nil, errorf(apierr.TypeInvalidOrganizationID, "organization_id %q is not an Organization ID.", id)
	}
	return c, parseClaims(c)
}

func parseClaims(c *call) *apiError {
	raw := bytes.TrimSpace(c.req.SessionCustomClaims)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return errorf(apierr.TypeUnableToRepresentCustomClaimsJSON, "session_custom_claims must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as sent
	if err := dec.Decode(&c.claims); err != nil {
		return errorf(apierr.TypeUnableToRepresentCustomClaimsJSON, "session_custom_claims must be a JSON object.")
	}
	if claimsSize(c.claims) > maxCustomClaimsBytes {
		return errorf(apierr.TypeCustomClaimsTooLarge, "session_custom_claims must be at most %d bytes.", maxCustomClaimsBytes)
	}
	for k := range c.claims {
		if strings.HasPrefix(k, "https://stytch.com/") {
			return errorf(apierr.TypeStytchClaimsInCustomClaims, "session_custom_claims may not set Stytch's own claim %q.", k)
		}
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field + " must be " + wire.JSONKind(te.Type) + ", not a JSON " + te.Value + "."
	}
	if errors.Is(err, io.EOF) {
		return "the body is empty."
	}
	return "malformed JSON."
}

// resolveOrganization finds the organization from the request and the
// token's organization claim (an Organization ID or external ID).
func (p *project) resolveOrganization(c *call) (*organization, *apiError) {
	bodyID, claim := str(c.req.OrganizationID), c.identity.Organization
	var fromClaim *organization
	if claim != "" {
		fromClaim = p.orgRefs[claim]
	}
	switch {
	case bodyID != "" && claim != "":
		org := p.orgs[bodyID]
		if org == nil {
			return nil, errorf(apierr.TypeOrganizationNotFound, "Organization %s could not be found.", bodyID)
		}
		if fromClaim != org {
			return nil, errorf(apierr.TypeInvalidTokenOrganizationIDClaim, "The token's organization claim does not name organization_id %s.", bodyID)
		}
		return org, nil
	case bodyID != "":
		if org := p.orgs[bodyID]; org != nil {
			return org, nil
		}
		return nil, errorf(apierr.TypeOrganizationNotFound, "Organization %s could not be found.", bodyID)
	case claim != "":
		if fromClaim == nil {
			return nil, errorf(apierr.TypeOrganizationNotFound, "The organization the token names could not be found.")
		}
		return fromClaim, nil
	}
	return nil, errorf(apierr.TypeTokenMissingOrganizationIDClaim, "organization_id is required when the token carries no organization claim.")
}

// member finds the Member by the token's email, or (isNew) builds the one
// JIT provisioning will create when the profile allows it.
func (p *project) member(c *call, org *organization, now time.Time) (m *wire.Member, isNew bool, aerr *apiError) {
	if org.suspended {
		return nil, false, errorf(apierr.TypeOrganizationSuspended, "Organization %s is suspended.", org.OrganizationID)
	}
	if m := p.members[memberKey(org.OrganizationID, c.identity.Email)]; m != nil && m.Status != "deleted" {
		return m, false, nil
	}
	if !c.profile.CanJITProvision {
		return nil, false, errorf(apierr.TypeMemberNotFound, "No member with the token's email exists in organization %s.", org.OrganizationID)
	}
	if c.identity.Organization == "" {
		return nil, false, errorf(apierr.TypeTokenMissingOrganizationIDClaim, "The profile allows JIT provisioning, so the token must carry an organization claim.")
	}
	m = &wire.Member{
		OrganizationID:       org.OrganizationID,
		MemberID:             newID("member", p.env),
		EmailAddress:         c.identity.Email,
		Status:               "active",
		EmailAddressVerified: true,
	}
	if ext := c.identity.ExternalMemberID; ext != "" {
		m.ExternalID = &ext
	}
	for _, r := range c.identity.RoleIDs {
		m.Roles = append(m.Roles, wire.MemberRole{RoleID: r, Sources: []wire.MemberRoleSource{{Type: "direct_assignment"}}})
	}
	memberDefaults(m, now)
	return m, true, nil
}

// mergeClaims applies the request's session_custom_claims to the session's
// (s is nil for a new session): null deletes, reserved claims are ignored,
// and the result must stay within 4 KB.
func mergeClaims(s *session, req map[string]any) (map[string]any, *apiError) {
	claims := map[string]any{}
	if s != nil {
		for k, v := range s.state.CustomClaims {
			claims[k] = v
		}
	}
	for k, v := range req {
		switch {
		case reservedClaims[k]:
		case v == nil:
			delete(claims, k)
		default:
			claims[k] = v
		}
	}
	if claimsSize(claims) > maxCustomClaimsBytes {
		return nil, errorf(apierr.TypeCustomClaimsTooLarge, "The session's custom claims would exceed %d bytes.", maxCustomClaimsBytes)
	}
	return claims, nil
}

// claimsSize is the size of claims as compact JSON without HTML escaping,
// the one measure for the request and for the merged result.
func claimsSize(claims map[string]any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(claims); err != nil {
		return maxCustomClaimsBytes + 1
	}
	return b.Len() - 1 // Encode's newline
}

// upsertSession creates a new session (s nil) or extends s: a
// trusted_auth_token factor, the new expiry, the merged claims and roles.
func (e *Emulator) upsertSession(p *project, s *session, c *call, org *organization, m *wire.Member, claims map[string]any, now time.Time, r *http.Request) *session {
	if s == nil {
		s = &session{token: newSessionToken(), state: wire.MemberSession{
			MemberSessionID:  newID("member-session", p.env),
			MemberID:         m.MemberID,
			StartedAt:        now,
			OrganizationID:   org.OrganizationID,
			OrganizationSlug: org.OrganizationSlug,
		}}
		e.store(p, s, now)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		s.ip = host
	}
	s.agent = r.UserAgent()
	st := &s.state
	st.LastAccessedAt, st.ExpiresAt, st.CustomClaims = now, now.Add(c.duration), claims
	st.Roles = sessionRoles(m, c.identity.RoleIDs)
	addFactor(st, c.identity.TokenID, now)
	st.Normalize()
	return s
}

// existingSession finds the session named by session_token or session_jwt;
// it must be live and belong to the member the token authenticates.
func (e *Emulator) existingSession(p *project, c *call, m *wire.Member, now time.Time) (*session, *apiError) {
	var s *session
	switch {
	case str(c.req.SessionToken) != "":
		s = p.sessions[str(c.req.SessionToken)]
	case str(c.req.SessionJWT) != "":
		id, err := e.sessionIDFromJWT(p, str(c.req.SessionJWT))
		if err != nil {
			return nil, errorf(apierr.TypeUnableToParseSessionJWT, "session_jwt is not a session JWT issued for this project.")
		}
		s = p.byID[id]
	default:
		return nil, nil
	}
	if s != nil && !now.Before(s.state.ExpiresAt) {
		p.drop(s)
		s = nil
	}
	if s == nil || s.state.MemberID != m.MemberID {
		return nil, errorf(apierr.TypeSessionNotFound, "Session could not be found.")
	}
	return s, nil
}

func addFactor(st *wire.MemberSession, tokenID string, now time.Time) {
	for i := range st.AuthenticationFactors {
		f := &st.AuthenticationFactors[i]
		if f.TrustedAuthTokenFactor != nil && f.TrustedAuthTokenFactor.TokenID == tokenID {
			f.LastAuthenticatedAt, f.UpdatedAt = &now, &now
			return
		}
	}
	st.AuthenticationFactors = append(st.AuthenticationFactors, wire.AuthenticationFactor{
		Type:                   "trusted_auth_token",
		DeliveryMethod:         "trusted_token_exchange",
		LastAuthenticatedAt:    &now,
		CreatedAt:              &now,
		UpdatedAt:              &now,
		TrustedAuthTokenFactor: &wire.TrustedAuthTokenFactor{TokenID: tokenID},
	})
}

// sessionRoles are the member's roles plus the token's mapped role IDs.
func sessionRoles(m *wire.Member, fromToken []string) []string {
	seen := map[string]bool{}
	var roles []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			roles = append(roles, id)
		}
	}
	for _, r := range m.Roles {
		add(r.RoleID)
	}
	for _, r := range fromToken {
		add(r)
	}
	return roles
}

// newSessionToken is 33 bytes from the CSPRNG: 44 base64url characters,
// the length of Stytch's session tokens.
func newSessionToken() string {
	b := make([]byte, 33)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// store adds a session, first making room: expired sessions go, then (at
// the cap) the one expiring soonest.
func (e *Emulator) store(p *project, s *session, now time.Time) {
	if len(p.sessions) >= e.maxSessions {
		var soonest *session
		for _, old := range p.sessions {
			if !now.Before(old.state.ExpiresAt) {
				p.drop(old)
			} else if soonest == nil || old.state.ExpiresAt.Before(soonest.state.ExpiresAt) {
				soonest = old
			}
		}
		if len(p.sessions) >= e.maxSessions && soonest != nil {
			p.drop(soonest)
		}
	}
	p.sessions[s.token] = s
	p.byID[s.state.MemberSessionID] = s
}

func (p *project) drop(s *session) {
	delete(p.sessions, s.token)
	delete(p.byID, s.state.MemberSessionID)
}
