// Package emulator is an in-memory emulator of Stytch's B2B attest API
// (POST /v1/b2b/sessions/attest and GET /v1/b2b/sessions/jwks/{project_id})
// that speaks Stytch's HTTP wire protocol: Basic auth with project
// credentials, Trusted Auth Token verification, organizations, members and
// sessions, Stytch-shaped errors. attestd runs it when it has no Stytch
// credentials, reaching it through the same HTTP client it uses for Stytch;
// `attestd emulator` serves it on its own for other services and SDKs.
package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
	"github.com/attestd/attestd/internal/apierr"
)

// Options configure an Emulator; the zero value serves the demo seed with
// the demo credentials.
type Options struct {
	// ProjectID and Secret are the credentials of every seed project that
	// names none (the demo seed's one project). Default: demo credentials.
	ProjectID, Secret string
	// Seed is the starting state; nil means demo.Seed().
	Seed *seed.Seed
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SigningKey signs session JWTs; nil means a fresh RSA-2048 key.
	SigningKey *rsa.PrivateKey
	// HTTPClient fetches profiles' JWKS URLs; nil means a 5 s-timeout client.
	HTTPClient *http.Client
	// Log receives one line per call (never a token); nil discards.
	Log *slog.Logger
	// MaxSessions bounds the sessions kept in memory (default 100000);
	// beyond it expired sessions are dropped, then the oldest.
	MaxSessions int
}

// Emulator is the HTTP handler of one emulated Stytch deployment.
type Emulator struct {
	now         func() time.Time
	log         *slog.Logger
	signer      jose.Signer
	publicKey   jose.JSONWebKey
	maxSessions int
	mux         *http.ServeMux

	mu       sync.Mutex
	projects map[string]*project
}

// project is one Stytch project's state. Guarded by Emulator.mu.
type project struct {
	id, env  string
	secret   [sha256.Size]byte // only the hash is kept, compared in constant time
	profiles map[string]*profile
	orgs     map[string]*organization // by organization_id
	orgRefs  map[string]*organization // by organization_id and external ID
	members  map[string]*wire.Member  // by orgID + "\x00" + lower(email)
	sessions map[string]*session      // by session_token
	byID     map[string]*session      // by member_session_id
}

type profile struct {
	seed.Profile
	verifier *trustedtoken.Verifier
}

type organization struct {
	wire.Organization
	suspended bool
}

type session struct {
	token     string
	state     wire.MemberSession
	ip, agent string
}

// New builds an Emulator from its options, checking the seed.
func New(o Options) (*Emulator, error) {
	if o.ProjectID == "" && o.Secret == "" {
		o.ProjectID, o.Secret = demo.ProjectID, demo.Secret
	}
	if o.ProjectID == "" || o.Secret == "" {
		return nil, fmt.Errorf("emulator: set both the project ID and the secret, or neither")
	}
	if o.Seed == nil {
		o.Seed = demo.Seed()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 100000
	}
	key := o.SigningKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	e := &Emulator{now: o.Now, log: o.Log, maxSessions: o.MaxSessions, projects: map[string]*project{}}
	pub, err := trustedtoken.KeyWithThumbprint(key.Public())
	if err != nil {
		return nil, err
	}
	pub.Algorithm, pub.KeyID = string(jose.RS256), "jwk-"+pub.KeyID
	e.publicKey = pub
	e.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	for _, sp := range o.Seed.Projects {
		p, err := e.load(sp, o)
		if err != nil {
			return nil, err
		}
		if e.projects[p.id] != nil {
			return nil, fmt.Errorf("emulator: project %q is defined twice (a seed project without credentials takes the configured ones)", p.id)
		}
		e.projects[p.id] = p
	}
	e.routes()
	return e, nil
}

// load turns a seed project into state, filling in what Stytch would have
// set: IDs, defaults of every always-present field, timestamps.
func (e *Emulator) load(sp seed.Project, o Options) (*project, error) {
	if sp.ProjectID == "" {
		sp.ProjectID, sp.Secret = o.ProjectID, o.Secret
	}
	p := &project{
		id: sp.ProjectID, env: envOf(sp.ProjectID), secret: sha256.Sum256([]byte(sp.Secret)),
		profiles: map[string]*profile{}, orgs: map[string]*organization{}, orgRefs: map[string]*organization{},
		members: map[string]*wire.Member{}, sessions: map[string]*session{}, byID: map[string]*session{},
	}
	now := e.stamp()
	for _, sp := range sp.TrustedTokenProfiles {
		cfg := sp.VerifierConfig()
		cfg.Now, cfg.HTTPClient = e.now, o.HTTPClient
		v, err := trustedtoken.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", sp.ProfileID, err)
		}
		p.profiles[sp.ProfileID] = &profile{Profile: sp, verifier: v}
	}
	for _, so := range sp.Organizations {
		org := &organization{Organization: so.Organization, suspended: so.Suspended}
		orgDefaults(&org.Organization, now)
		p.orgs[org.OrganizationID] = org
		p.orgRefs[org.OrganizationID] = org
		if ext := org.OrganizationExternalID; ext != nil && *ext != "" {
			p.orgRefs[*ext] = org
		}
		for _, m := range so.Members {
			m.OrganizationID = org.OrganizationID
			if m.MemberID == "" {
				m.MemberID = newID("member", p.env)
			}
			memberDefaults(&m, now)
			p.members[memberKey(org.OrganizationID, m.EmailAddress)] = &m
		}
	}
	return p, nil
}

// orgDefaults fills what Stytch sets on every Organization: its documented
// defaults and empty lists.
func orgDefaults(o *wire.Organization, now time.Time) {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.SSOJITProvisioning, "ALL_ALLOWED")
	def(&o.EmailJITProvisioning, "NOT_ALLOWED")
	def(&o.EmailInvites, "ALL_ALLOWED")
	def(&o.AuthMethods, "ALL_ALLOWED")
	def(&o.MFAPolicy, "OPTIONAL")
	def(&o.MFAMethods, "ALL_ALLOWED")
	def(&o.OAuthTenantJITProvisioning, "NOT_ALLOWED")
	def(&o.FirstPartyConnectedAppsAllowedType, "ALL_ALLOWED")
	def(&o.ThirdPartyConnectedAppsAllowedType, "ALL_ALLOWED")
	if o.CreatedAt == nil {
		o.CreatedAt = &now
	}
	if o.UpdatedAt == nil {
		o.UpdatedAt = o.CreatedAt
	}
	o.Normalize()
}

// memberDefaults fills what Stytch sets on every Member; every Member holds
// the reserved stytch_member role.
func memberDefaults(m *wire.Member, now time.Time) {
	if m.Status == "" {
		m.Status = "active"
	}
	if !hasRole(m.Roles, "stytch_member") {
		m.Roles = append([]wire.MemberRole{{RoleID: "stytch_member", Sources: []wire.MemberRoleSource{{Type: "direct_assignment"}}}}, m.Roles...)
	}
	m.IsAdmin = m.IsAdmin || hasRole(m.Roles, "stytch_admin")
	if m.CreatedAt == nil {
		m.CreatedAt = &now
	}
	if m.UpdatedAt == nil {
		m.UpdatedAt = m.CreatedAt
	}
	m.Normalize()
}

func hasRole(roles []wire.MemberRole, id string) bool {
	for _, r := range roles {
		if r.RoleID == id {
			return true
		}
	}
	return false
}

func memberKey(orgID, email string) string { return orgID + "\x00" + strings.ToLower(email) }

// envOf is "live" for live projects and "test" otherwise; Stytch puts it in
// every ID it mints.
func envOf(projectID string) string {
	if strings.HasPrefix(projectID, "project-live-") {
		return "live"
	}
	return "test"
}

// newID mints a Stytch-style ID: "<kind>-<env>-<uuid v4>".
func newID(kind, env string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s-%s", kind, env, h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// stamp is the current time as Stytch renders it: UTC, whole seconds.
func (e *Emulator) stamp() time.Time { return e.now().UTC().Truncate(time.Second) }

// PublicKey is the JWK that verifies the emulator's session JWTs.
func (e *Emulator) PublicKey() jose.JSONWebKey { return e.publicKey }

// ProjectIDs lists the emulated projects.
func (e *Emulator) ProjectIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.projects))
	for id := range e.projects {
		ids = append(ids, id)
	}
	return ids
}

func (e *Emulator) routes() {
	e.mux = http.NewServeMux()
	e.mux.HandleFunc("POST /v1/b2b/sessions/attest", e.attest)
	e.mux.HandleFunc("GET /v1/b2b/sessions/jwks/{project_id}", e.jwks)
	e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		// A JWKS path exists (for GET) only with exactly one project segment.
		project, jwks := strings.CutPrefix(p, "/v1/b2b/sessions/jwks/")
		allow := ""
		switch {
		case p == "/v1/b2b/sessions/attest":
			allow = "POST"
		case jwks && project != "" && !strings.Contains(project, "/"):
			allow = "GET"
		}
		if allow != "" {
			w.Header().Set("Allow", allow)
			e.fail(w, r, "", errorf(apierr.TypeMethodNotAllowed, "%s is not allowed on %s.", r.Method, p))
			return
		}
		e.fail(w, r, "", errorf(apierr.TypeRouteNotFound, "The emulator serves no route %s %s.", r.Method, p))
	})
}

// ServeHTTP serves Stytch's routes; a panic becomes a 500 internal_server_error.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("emulator panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
			e.fail(w, r, "", errorf(apierr.TypeInternal, "The emulator failed while handling the request."))
		}
	}()
	e.mux.ServeHTTP(w, r)
}

// jwks serves the public keys of session JWTs, in Stytch's shape.
func (e *Emulator) jwks(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("project_id")
	e.mu.Lock()
	p := e.projects[id]
	e.mu.Unlock()
	env := envOf(id)
	if p == nil {
		e.fail(w, r, env, errorf(apierr.TypeProjectNotFound, "Project %s could not be found.", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"keys":        []jose.JSONWebKey{e.publicKey},
		"request_id":  newID("request-id", env),
		"status_code": http.StatusOK,
	})
}

// authenticate checks Basic auth against the projects.
func (e *Emulator) authenticate(r *http.Request) (*project, *apiError) {
	id, secret, ok := r.BasicAuth()
	if ok {
		e.mu.Lock()
		p := e.projects[id]
		e.mu.Unlock()
		sum := sha256.Sum256([]byte(secret))
		if p != nil && subtle.ConstantTimeCompare(sum[:], p.secret[:]) == 1 {
			return p, nil
		}
	}
	return nil, errorf(apierr.TypeUnauthorizedCredentials, "Unauthorized credentials.")
}

func (e *Emulator) fail(w http.ResponseWriter, r *http.Request, env string, err *apiError) {
	if env == "" {
		env = "test"
	}
	status, body := err.body(newID("request-id", env))
	e.log.Info("emulator call", "method", r.Method, "path", r.URL.Path, "status", status, "error_type", body.ErrorType, "request_id", body.RequestID)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"status_code":500,"request_id":"","error_type":"internal_server_error","error_message":"The emulator could not encode its answer.","error_url":"https://stytch.com/docs/api-reference/b2b/api/errors/500#internal_server_error"}`)
	}
	writeBytes(w, status, b)
}

func writeBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
