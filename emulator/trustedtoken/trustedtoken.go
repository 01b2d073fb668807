// Package trustedtoken verifies the externally issued JWTs that Stytch's
// attest endpoint accepts, the way a Trusted Auth Token profile describes
// them: signature by one of the profile's keys (a JWKS URL or static PEM
// public keys), expected iss and aud, a time window with a small clock skew,
// and the claims the profile's attribute mapping names.
//
// Every failure is a *Failure carrying the Stytch error_type the emulator
// answers with; the names come from Stytch's own error-type enum (see the
// README's emulator section for which ones are inferred).
package trustedtoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/attestd/attestd/internal/apierr"
)

// Stytch error types a token can fail with (apierr's names).
const (
	// TypeInvalidToken: malformed, wrongly signed, unknown kid, outside its
	// time window.
	TypeInvalidToken = apierr.TypeInvalidTrustedAuthToken
	// TypeInvalidIssuer: iss is not the profile's issuer.
	TypeInvalidIssuer = apierr.TypeJWTInvalidIssuer
	// TypeInvalidAudience: aud does not contain the profile's audience.
	TypeInvalidAudience = apierr.TypeJWTInvalidAudience
	// TypeInvalidClaims: a mapped claim is missing or of the wrong type.
	TypeInvalidClaims = apierr.TypeJWTInvalidClaims
	// TypeInvalidOrgClaim: the organization claim is not a usable string.
	TypeInvalidOrgClaim = apierr.TypeInvalidTokenOrganizationIDClaim
)

// DefaultSkew is the clock skew allowed on exp, nbf and iat: enough for
// hosts synchronised by NTP, short next to the ~5-minute tokens Stytch
// recommends.
const DefaultSkew = 30 * time.Second

// MaxTokenBytes caps a token before any parsing; a JWT with an identity and
// a few claims is well under 2 KB.
const MaxTokenBytes = 16 << 10

// Algorithms are the signature algorithms accepted in a token's header.
// Asymmetric only: "none" and the HS family (the public-key-as-HMAC-secret
// confusion) are refused before any key is tried.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Failure is a token that did not verify, as Stytch reports it.
type Failure struct {
	// Type is the Stytch error_type.
	Type string
	// Message is the error_message; it never contains the token.
	Message string
}

func (f *Failure) Error() string { return f.Type + ": " + f.Message }

func fail(typ, format string, args ...any) *Failure {
	return &Failure{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// AttributeMapping names the token claims that carry Stytch's fields.
type AttributeMapping struct {
	// Email is the claim holding the Member's email address (required).
	Email string `json:"email"`
	// TokenID is the claim holding the token's unique ID (required); it
	// becomes trusted_auth_token_factor.token_id.
	TokenID string `json:"token_id"`
	// OrganizationID is the claim holding an Organization ID or external ID.
	OrganizationID string `json:"organization_id,omitempty"`
	// ExternalMemberID is the claim holding the Member's external ID.
	ExternalMemberID string `json:"external_member_id,omitempty"`
	// RoleIDs is the claim holding an array of RBAC role IDs.
	RoleIDs string `json:"role_ids,omitempty"`
}

// Config describes a profile's verification rules.
type Config struct {
	// Issuer must equal the token's iss.
	Issuer string
	// Audience must be among the token's aud.
	Audience string
	// JWKSURL is where the signing keys are published; exclusive with PEMKeys.
	JWKSURL string
	// PEMKeys are static PEM public keys (SubjectPublicKeyInfo or PKCS#1).
	PEMKeys []string
	// Mapping names the claims to read.
	Mapping AttributeMapping
	// Skew is the allowed clock skew; 0 means DefaultSkew.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTPClient fetches the JWKS; nil means a client with a 5 s timeout.
	HTTPClient *http.Client
}

// Identity is what a verified token says, through the attribute mapping.
type Identity struct {
	// Email is the mapped email claim.
	Email string
	// TokenID is the mapped token_id claim.
	TokenID string
	// Organization is the mapped organization claim: an Organization ID or
	// an external ID. Empty when the token has none.
	Organization string
	// ExternalMemberID is the mapped external member ID, if any.
	ExternalMemberID string
	// RoleIDs are the mapped role IDs, if any.
	RoleIDs []string
}

// Verifier checks tokens against one profile.
type Verifier struct {
	issuer, audience string
	mapping          AttributeMapping
	skew             time.Duration
	now              func() time.Time
	keys             keySource
}

// keySource yields the verification keys for a token's kid ("" when the
// header names none).
type keySource interface {
	keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// New checks the configuration and builds a Verifier. PEM keys are parsed
// here, so a bad key fails at start-up, not at the first token.
func New(c Config) (*Verifier, error) {
	switch {
	case c.Issuer == "":
		return nil, errors.New("issuer is required")
	case c.Audience == "":
		return nil, errors.New("audience is required")
	case c.Mapping.Email == "":
		return nil, errors.New("attribute_mapping.email is required")
	case c.Mapping.TokenID == "":
		return nil, errors.New("attribute_mapping.token_id is required")
	case c.JWKSURL != "" && len(c.PEMKeys) > 0:
		return nil, errors.New("set jwks_url or pem_files, not both")
	case c.JWKSURL == "" && len(c.PEMKeys) == 0:
		return nil, errors.New("jwks_url or pem_files is required")
	case len(c.PEMKeys) > 5:
		return nil, errors.New("at most 5 pem_files are allowed (as in Stytch)")
	}
	v := &Verifier{issuer: c.Issuer, audience: c.Audience, mapping: c.Mapping, skew: c.Skew, now: c.Now}
	if v.skew == 0 {
		v.skew = DefaultSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	if c.JWKSURL != "" {
		src, err := newJWKS(c.JWKSURL, c.HTTPClient, v.now)
		if err != nil {
			return nil, err
		}
		v.keys = src
		return v, nil
	}
	var static staticKeys
	for i, p := range c.PEMKeys {
		k, err := ParsePEMPublicKey(p)
		if err != nil {
			return nil, fmt.Errorf("pem_files[%d]: %w", i, err)
		}
		static = append(static, k)
	}
	v.keys = static
	return v, nil
}

// ParsePEMPublicKey reads one PEM public key (RSA, EC or Ed25519) and gives
// it its RFC 7638 thumbprint as key ID, the kid a token signed by it carries.
func ParsePEMPublicKey(p string) (jose.JSONWebKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(p)))
	if block == nil {
		return jose.JSONWebKey{}, errors.New("not a PEM block")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return jose.JSONWebKey{}, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	return KeyWithThumbprint(pub)
}

// KeyWithThumbprint wraps a public key as a JWK whose key ID is its RFC 7638
// SHA-256 thumbprint (base64url).
func KeyWithThumbprint(pub crypto.PublicKey) (jose.JSONWebKey, error) {
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return jose.JSONWebKey{}, fmt.Errorf("unsupported public key type %T", pub)
	}
	k := jose.JSONWebKey{Key: pub, Use: "sig"}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	k.KeyID = b64(tp)
	return k, nil
}

type staticKeys []jose.JSONWebKey

func (s staticKeys) keys(context.Context, string) ([]jose.JSONWebKey, error) { return s, nil }

// Verify checks a token and returns the identity it carries.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, *Failure) {
	if len(raw) > MaxTokenBytes {
		return nil, fail(TypeInvalidToken, "The token is longer than %d bytes.", MaxTokenBytes)
	}
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return nil, fail(TypeInvalidToken, "The token is not a JWS-signed JWT with an accepted algorithm (%s).", algNames())
	}
	h := tok.Headers[0]
	keys, err := v.keys.keys(ctx, h.KeyID)
	if err != nil {
		return nil, fail(TypeInvalidToken, "The profile's verification keys could not be loaded: %v", err)
	}
	var verified any // the key whose signature check passed
	candidates := 0
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		candidates++
		if tok.Claims(k.Key) == nil {
			verified = k.Key
			break
		}
	}
	switch {
	case candidates == 0:
		return nil, fail(TypeInvalidToken, "The token's key ID %q matches none of the profile's keys.", h.KeyID)
	case verified == nil:
		return nil, fail(TypeInvalidToken, "The token's signature does not verify with the profile's keys.")
	}
	// Decoded after the signature check, so that a mistyped registered
	// claim is not reported as a bad signature.
	var std jwt.Claims
	all := map[string]any{}
	if tok.Claims(verified, &std, &all) != nil {
		return nil, fail(TypeInvalidToken, "The token's registered claims are malformed (iss, sub and jti must be strings, aud a string or an array of strings, exp, nbf and iat numbers).")
	}
	if f := v.checkRegistered(&std); f != nil {
		return nil, f
	}
	return v.mapClaims(all)
}

func (v *Verifier) checkRegistered(c *jwt.Claims) *Failure {
	if c.Issuer != v.issuer {
		return fail(TypeInvalidIssuer, "The token's iss does not match the profile's issuer.")
	}
	if !c.Audience.Contains(v.audience) {
		return fail(TypeInvalidAudience, "The token's aud does not contain the profile's audience.")
	}
	now := v.now()
	switch {
	case c.Expiry == nil:
		return fail(TypeInvalidToken, "The token has no exp claim.")
	case now.Add(-v.skew).After(c.Expiry.Time()):
		return fail(TypeInvalidToken, "The token has expired.")
	case c.NotBefore != nil && now.Add(v.skew).Before(c.NotBefore.Time()):
		return fail(TypeInvalidToken, "The token is not valid yet (nbf).")
	case c.IssuedAt != nil && now.Add(v.skew).Before(c.IssuedAt.Time()):
		return fail(TypeInvalidToken, "The token was issued in the future (iat).")
	}
	return nil
}

func (v *Verifier) mapClaims(all map[string]any) (*Identity, *Failure) {
	id := &Identity{}
	var f *Failure
	str := func(dst *string, claim string, required bool, typ string) {
		if f != nil || claim == "" {
			return
		}
		val, ok := all[claim]
		if !ok || val == nil {
			if required {
				f = fail(typ, "The token has no %q claim, which the profile maps.", claim)
			}
			return
		}
		s, ok := val.(string)
		if !ok || s == "" {
			f = fail(typ, "The token's %q claim is not a non-empty string.", claim)
			return
		}
		*dst = s
	}
	str(&id.Email, v.mapping.Email, true, TypeInvalidClaims)
	str(&id.TokenID, v.mapping.TokenID, true, TypeInvalidClaims)
	str(&id.Organization, v.mapping.OrganizationID, false, TypeInvalidOrgClaim)
	str(&id.ExternalMemberID, v.mapping.ExternalMemberID, false, TypeInvalidClaims)
	if f != nil {
		return nil, f
	}
	if !strings.Contains(id.Email, "@") {
		return nil, fail(TypeInvalidClaims, "The token's %q claim is not an email address.", v.mapping.Email)
	}
	if claim := v.mapping.RoleIDs; claim != "" && all[claim] != nil {
		list, ok := all[claim].([]any)
		if !ok {
			return nil, fail(TypeInvalidClaims, "The token's %q claim is not an array of role IDs.", claim)
		}
		for _, r := range list {
			s, ok := r.(string)
			if !ok || s == "" {
				return nil, fail(TypeInvalidClaims, "The token's %q claim is not an array of role IDs.", claim)
			}
			id.RoleIDs = append(id.RoleIDs, s)
		}
	}
	return id, nil
}

func algNames() string {
	names := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}
