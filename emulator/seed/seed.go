// Package seed is the emulator's starting state: projects, their Trusted
// Auth Token profiles, organizations and members, written as JSON or YAML
// with Stytch's own field names. Parse checks a seed completely, so a bad
// file fails start-up with one line naming the file and the problem.
package seed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
)

// Seed is the whole starting state.
type Seed struct {
	// Projects are independent Stytch projects, each with its own
	// credentials.
	Projects []Project `json:"projects"`
}

// Project is one Stytch project.
type Project struct {
	// ProjectID is the Basic-auth user name. Empty means the emulator's
	// configured project ID, which is how the demo seed follows
	// --project-id / STYTCH_PROJECT_ID.
	ProjectID string `json:"project_id,omitempty"`
	// Secret is the Basic-auth password; empty means the configured secret.
	Secret string `json:"secret,omitempty"`
	// TrustedTokenProfiles are the project's Trusted Auth Token profiles.
	TrustedTokenProfiles []Profile `json:"trusted_token_profiles"`
	// Organizations are the project's organizations with their members.
	Organizations []Organization `json:"organizations"`
}

// Profile is a Trusted Auth Token profile, named as in Stytch's management
// API.
type Profile struct {
	// ProfileID is what attest requests name in profile_id.
	ProfileID string `json:"profile_id"`
	// Name is a display name.
	Name string `json:"name,omitempty"`
	// Issuer is the iss every token must carry.
	Issuer string `json:"issuer"`
	// Audience must be among every token's aud.
	Audience string `json:"audience"`
	// JWKSURL publishes the signing keys; exclusive with PEMFiles.
	JWKSURL string `json:"jwks_url,omitempty"`
	// PEMFiles are up to five static PEM public keys.
	PEMFiles []string `json:"pem_files,omitempty"`
	// AttributeMapping names the claims carrying email, token_id and the
	// optional organization_id, external_member_id and role_ids.
	AttributeMapping trustedtoken.AttributeMapping `json:"attribute_mapping"`
	// CanJITProvision lets attest create a Member that does not exist yet.
	CanJITProvision bool `json:"can_jit_provision"`
}

// Organization is a Stytch Organization plus what only the emulator needs.
type Organization struct {
	wire.Organization
	// Suspended makes every attest into it fail with organization_suspended.
	Suspended bool `json:"suspended,omitempty"`
	// Members belong to this organization (their organization_id may be
	// omitted).
	Members []wire.Member `json:"members,omitempty"`
}

// Error is a seed problem, one line: "seed file F: where: what".
type Error struct {
	// File names the seed ("demo seed" for the embedded one).
	File string
	// Problem says where in the seed and what is wrong.
	Problem string
}

func (e *Error) Error() string { return "seed file " + e.File + ": " + oneLine(e.Problem) }

// oneLine joins a multi-line message (YAML's list of errors) into one.
func oneLine(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if i > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(strings.TrimSpace(l))
	}
	return b.String()
}

// Load reads and checks a seed file; .json is JSON, anything else is YAML
// (of which JSON is a subset).
func Load(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{path, "cannot be read: " + err.Error()}
	}
	return Parse(path, data)
}

// Parse decodes and checks a seed; name is used in errors.
func Parse(name string, data []byte) (*Seed, error) {
	if !strings.EqualFold(filepath.Ext(name), ".json") {
		j, err := yaml.YAMLToJSONStrict(data) // strict: a duplicate key is an error
		if err != nil {
			return nil, &Error{name, "not valid YAML: " + oneLine(strings.TrimPrefix(err.Error(), "yaml: "))}
		}
		data = j
	}
	var s Seed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, &Error{name, describeJSONError(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{name, "unexpected data after the seed object"}
	}
	if err := s.check(); err != nil {
		return nil, &Error{name, err.Error()}
	}
	return &s, nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%s: expected %s, found a JSON %s", te.Field, wire.JSONKind(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.EOF):
		return "empty"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

var slugRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{2,128}$`)

// memberStatuses are Stytch's Member.status values.
var memberStatuses = map[string]bool{"": true, "pending": true, "invited": true, "active": true, "deleted": true}

// check finds the first structural problem: missing or duplicate IDs,
// unusable profiles, members that cannot be looked up.
func (s *Seed) check() error {
	if len(s.Projects) == 0 {
		return errors.New("projects: at least one project is required")
	}
	projectIDs := map[string]bool{}
	for pi := range s.Projects {
		p := &s.Projects[pi]
		at := fmt.Sprintf("projects[%d]", pi)
		if (p.ProjectID == "") != (p.Secret == "") {
			return fmt.Errorf("%s: set both project_id and secret, or neither (to use the emulator's configured credentials)", at)
		}
		if projectIDs[p.ProjectID] {
			if p.ProjectID == "" {
				return fmt.Errorf("%s: only one project may leave out project_id and secret (it takes the configured credentials)", at)
			}
			return fmt.Errorf("%s.project_id: %q appears twice", at, p.ProjectID)
		}
		projectIDs[p.ProjectID] = true
		if err := p.check(at); err != nil {
			return err
		}
	}
	return nil
}

func (p *Project) check(at string) error {
	profiles := map[string]bool{}
	for i, pr := range p.TrustedTokenProfiles {
		where := fmt.Sprintf("%s.trusted_token_profiles[%d]", at, i)
		if pr.ProfileID == "" {
			return fmt.Errorf("%s.profile_id: required", where)
		}
		if profiles[pr.ProfileID] {
			return fmt.Errorf("%s.profile_id: %q appears twice", where, pr.ProfileID)
		}
		profiles[pr.ProfileID] = true
		if _, err := trustedtoken.New(pr.VerifierConfig()); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	orgIDs, slugs, externals, memberIDs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range p.Organizations {
		o := &p.Organizations[i]
		where := fmt.Sprintf("%s.organizations[%d]", at, i)
		switch {
		case !strings.HasPrefix(o.OrganizationID, "organization-"):
			return fmt.Errorf("%s.organization_id: %q must start with \"organization-\"", where, o.OrganizationID)
		case orgIDs[o.OrganizationID]:
			return fmt.Errorf("%s.organization_id: %q appears twice", where, o.OrganizationID)
		case o.OrganizationName == "" || len(o.OrganizationName) > 128:
			return fmt.Errorf("%s.organization_name: required, at most 128 characters", where)
		case !slugRE.MatchString(o.OrganizationSlug):
			return fmt.Errorf("%s.organization_slug: %q must be 2..128 characters of A-Z a-z 0-9 - . _ ~", where, o.OrganizationSlug)
		case slugs[o.OrganizationSlug]:
			return fmt.Errorf("%s.organization_slug: %q appears twice", where, o.OrganizationSlug)
		}
		orgIDs[o.OrganizationID], slugs[o.OrganizationSlug] = true, true
		if ext := o.OrganizationExternalID; ext != nil && *ext != "" {
			if externals[*ext] {
				return fmt.Errorf("%s.organization_external_id: %q appears twice", where, *ext)
			}
			externals[*ext] = true
		}
		emails := map[string]bool{}
		for j, m := range o.Members {
			mw := fmt.Sprintf("%s.members[%d]", where, j)
			email := strings.ToLower(m.EmailAddress)
			switch {
			case !strings.Contains(email, "@"):
				return fmt.Errorf("%s.email_address: %q is not an email address", mw, m.EmailAddress)
			case emails[email]:
				return fmt.Errorf("%s.email_address: %q appears twice in the organization", mw, m.EmailAddress)
			case m.OrganizationID != "" && m.OrganizationID != o.OrganizationID:
				return fmt.Errorf("%s.organization_id: %q is not the enclosing organization", mw, m.OrganizationID)
			case m.MemberID != "" && memberIDs[m.MemberID]:
				return fmt.Errorf("%s.member_id: %q appears twice", mw, m.MemberID)
			case !memberStatuses[m.Status]:
				return fmt.Errorf("%s.status: %q is not one of pending, invited, active, deleted", mw, m.Status)
			}
			emails[email] = true
			if m.MemberID != "" {
				memberIDs[m.MemberID] = true
			}
		}
	}
	return nil
}

// VerifierConfig is the profile as trustedtoken verification rules.
func (p Profile) VerifierConfig() trustedtoken.Config {
	return trustedtoken.Config{
		Issuer:   p.Issuer,
		Audience: p.Audience,
		JWKSURL:  p.JWKSURL,
		PEMKeys:  p.PEMFiles,
		Mapping:  p.AttributeMapping,
	}
}
