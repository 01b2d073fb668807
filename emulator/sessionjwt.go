package emulator

import (
	"encoding/json"
	"errors"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claim names of Stytch's session JWT.
const (
	sessionClaim      = "https://stytch.com/session"
	organizationClaim = "https://stytch.com/organization"
)

// sessionJWT signs the session as Stytch does: sub = member_id, aud =
// [project_id], iss = stytch.com/<project_id>, a 5-minute window, the
// session and organization under Stytch's claim names, and the custom
// claims at the top level.
func (e *Emulator) sessionJWT(p *project, s *session, org *organization, now time.Time) (string, error) {
	st := &s.state
	claims := make(map[string]any, len(st.CustomClaims)+8)
	for k, v := range st.CustomClaims {
		claims[k] = v
	}
	claims["sub"] = st.MemberID
	claims["aud"] = []string{p.id}
	claims["iss"] = "stytch.com/" + p.id
	claims["iat"] = jwt.NewNumericDate(now)
	claims["nbf"] = jwt.NewNumericDate(now)
	claims["exp"] = jwt.NewNumericDate(now.Add(sessionJWTLifetime))
	claims[sessionClaim] = map[string]any{
		"id":                     st.MemberSessionID,
		"started_at":             st.StartedAt,
		"last_accessed_at":       st.LastAccessedAt,
		"expires_at":             st.ExpiresAt,
		"attributes":             map[string]string{"ip_address": s.ip, "user_agent": s.agent},
		"authentication_factors": st.AuthenticationFactors,
		"roles":                  st.Roles,
	}
	claims[organizationClaim] = map[string]string{"organization_id": org.OrganizationID, "slug": org.OrganizationSlug}
	// encoding/json, not go-jose's own: custom claims keep their numbers
	// exactly as sent (json.Number).
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := e.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// sessionIDFromJWT checks that a session JWT is the emulator's, for this
// project, and returns the member_session_id it names. Its own 5-minute
// expiry does not matter: as with Stytch, a live session is what counts.
func (e *Emulator) sessionIDFromJWT(p *project, raw string) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", err
	}
	var std jwt.Claims
	var custom struct {
		Session struct {
			ID string `json:"id"`
		} `json:"https://stytch.com/session"`
	}
	if err := tok.Claims(e.publicKey.Key, &std, &custom); err != nil {
		return "", err
	}
	if std.Issuer != "stytch.com/"+p.id || !std.Audience.Contains(p.id) || custom.Session.ID == "" {
		return "", errors.New("not a session JWT of this project")
	}
	return custom.Session.ID, nil
}
