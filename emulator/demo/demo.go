// Package demo is the emulator's built-in world: the embedded demo seed,
// the demo credentials, and the private keys of the demo profiles, so that
// anyone can mint a token the emulator accepts. Everything here is public
// on purpose and good for nothing but demos and tests.
package demo

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	_ "embed" // the demo seed and keys ship inside the binary
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/attestd/attestd/emulator/seed"
	"github.com/attestd/attestd/emulator/trustedtoken"
)

// The emulator's default project credentials. Not secret: they only open
// the emulator.
const (
	ProjectID = "project-test-attestd-demo"
	Secret    = "secret-test-attestd-demo-not-a-secret"
)

// What the demo seed contains.
const (
	// ProfileID verifies RS256 tokens and authenticates existing members only.
	ProfileID = "trusted-token-profile-test-demo"
	// JITProfileID verifies ES256 tokens and creates unknown members.
	JITProfileID = "trusted-token-profile-test-demo-jit"
	// Issuer and Audience are what both demo profiles expect.
	Issuer   = "https://idp.demo.attestd.invalid"
	Audience = "attestd-demo"
	// OrganizationID is the demo organization, Acme Corp (slug "acme").
	OrganizationID = "organization-test-demo-acme"
	// SuspendedOrganizationID is an organization every attest into fails.
	SuspendedOrganizationID = "organization-test-demo-suspended"
	// Email is the demo member the tokens name by default (an admin).
	Email = "alice@acme.example"
)

var (
	//go:embed seed.yaml
	seedYAML []byte
	//go:embed rs256.key.pem
	rs256Key []byte
	//go:embed es256.key.pem
	es256Key []byte
)

// Seed returns a fresh copy of the demo seed.
func Seed() *seed.Seed {
	s, err := seed.Parse("demo seed", seedYAML)
	if err != nil {
		panic(err) // the embedded seed is checked by this package's tests
	}
	return s
}

// TokenOptions shape a demo token; zero values give Alice's token for the
// demo organization, valid for five minutes.
type TokenOptions struct {
	// Profile is ProfileID (default, RS256) or JITProfileID (ES256).
	Profile string
	// Email is the member's email (default Email).
	Email string
	// Organization is an Organization ID, slug or external ID of the demo
	// seed (default OrganizationID); anything else is used verbatim.
	Organization string
	// NoOrganizationClaim leaves the org_id claim out of the token.
	NoOrganizationClaim bool
	// Roles go into the roles claim.
	Roles []string
	// TTL is the token lifetime (default 5 minutes, as Stytch recommends).
	TTL time.Duration
	// Now is the issue time (default time.Now).
	Now time.Time
}

// Token mints a JWT signed by the demo profile's private key. It returns
// the token and the organization ID it was minted for.
func Token(o TokenOptions) (token, organizationID string, err error) {
	if o.Profile == "" {
		o.Profile = ProfileID
	}
	if o.Email == "" {
		o.Email = Email
	}
	if o.TTL == 0 {
		o.TTL = 5 * time.Minute
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	organizationID = ResolveOrganization(o.Organization)
	key, alg, err := signingKey(o.Profile)
	if err != nil {
		return "", "", err
	}
	pub, err := trustedtoken.KeyWithThumbprint(key.Public())
	if err != nil {
		return "", "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", "", err
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := map[string]any{
		"iss":   Issuer,
		"aud":   Audience,
		"sub":   "idp|" + strings.ToLower(o.Email),
		"email": o.Email,
		"jti":   "demo-" + hex.EncodeToString(jti),
		"iat":   jwt.NewNumericDate(o.Now),
		"nbf":   jwt.NewNumericDate(o.Now),
		"exp":   jwt.NewNumericDate(o.Now.Add(o.TTL)),
	}
	if !o.NoOrganizationClaim {
		claims["org_id"] = organizationID
	}
	if len(o.Roles) > 0 {
		claims["roles"] = o.Roles
	}
	token, err = jwt.Signed(signer).Claims(claims).Serialize()
	return token, organizationID, err
}

// ResolveOrganization turns a demo organization's ID, slug or external ID
// into its ID; "" is the demo organization; anything else is kept as is.
func ResolveOrganization(v string) string {
	if v == "" {
		return OrganizationID
	}
	for _, o := range Seed().Projects[0].Organizations {
		ext := o.OrganizationExternalID
		if v == o.OrganizationSlug || (ext != nil && v == *ext) {
			return o.OrganizationID
		}
	}
	return v
}

func signingKey(profile string) (crypto.Signer, jose.SignatureAlgorithm, error) {
	keyPEM, alg := rs256Key, jose.RS256
	switch profile {
	case ProfileID:
	case JITProfileID:
		keyPEM, alg = es256Key, jose.ES256
	default:
		return nil, "", fmt.Errorf("profile %q is not a demo profile (%s or %s)", profile, ProfileID, JITProfileID)
	}
	key, err := parsePrivateKey(keyPEM)
	return key, alg, err
}

// PrivateKey returns a demo profile's private signing key, for tests that
// need to sign tokens of their own shape.
func PrivateKey(profile string) (crypto.Signer, error) {
	k, _, err := signingKey(profile)
	return k, err
}

func parsePrivateKey(p []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, errNoKey
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errNoKey
	}
	return s, nil
}

var errNoKey = errors.New("demo key is not a PKCS#8 signing key")
