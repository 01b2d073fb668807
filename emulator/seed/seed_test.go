package seed_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/attestd/attestd/emulator/demo"
	"github.com/attestd/attestd/emulator/seed"
)

// pemKey is a P-256 public key (the JIT demo profile's).
const pemKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQyoZ6RNip9dt2E0rr8OJeWWl0v9f
qBGzELZbloyednKdn8qPdxat1xLry7x1no7N+65Zqseo4pibSuuQP9o1pw==
-----END PUBLIC KEY-----
`

// indent prefixes every line of s but the first with n spaces.
func indent(s string, n int) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+strings.Repeat(" ", n))
}

const smallYAML = `
projects:
  - project_id: project-test-small
    secret: secret-small
    trusted_token_profiles:
      - profile_id: p1
        name: Small IdP
        issuer: https://idp.small.invalid
        audience: small
        pem_files:
          - |
            ` + "KEY" + `
        attribute_mapping: {email: email, token_id: jti, organization_id: org, role_ids: roles}
        can_jit_provision: true
      - profile_id: p2
        issuer: https://idp.small.invalid
        audience: small
        jwks_url: https://idp.small.invalid/jwks
        attribute_mapping: {email: mail, token_id: id}
    organizations:
      - organization_id: organization-test-small
        organization_name: Small
        organization_slug: small
        organization_external_id: small-ext
        email_allowed_domains: [small.example]
        trusted_metadata: {tier: 2, tags: [a, b]}
        members:
          - member_id: member-test-small-one
            email_address: one@small.example
            name: One
            status: invited
            is_admin: true
            roles: [{role_id: editor, sources: [{type: direct_assignment}]}]
          - email_address: two@small.example
      - organization_id: organization-test-other
        organization_name: Other
        organization_slug: other
        suspended: true
`

const smallJSON = `{"projects": [{
  "project_id": "project-test-small", "secret": "secret-small",
  "trusted_token_profiles": [
    {"profile_id": "p1", "name": "Small IdP", "issuer": "https://idp.small.invalid", "audience": "small",
     "pem_files": [KEY],
     "attribute_mapping": {"email": "email", "token_id": "jti", "organization_id": "org", "role_ids": "roles"},
     "can_jit_provision": true},
    {"profile_id": "p2", "issuer": "https://idp.small.invalid", "audience": "small",
     "jwks_url": "https://idp.small.invalid/jwks", "attribute_mapping": {"email": "mail", "token_id": "id"}}],
  "organizations": [
    {"organization_id": "organization-test-small", "organization_name": "Small", "organization_slug": "small",
     "organization_external_id": "small-ext", "email_allowed_domains": ["small.example"],
     "trusted_metadata": {"tier": 2, "tags": ["a", "b"]},
     "members": [
       {"member_id": "member-test-small-one", "email_address": "one@small.example", "name": "One", "status": "invited",
        "is_admin": true, "roles": [{"role_id": "editor", "sources": [{"type": "direct_assignment"}]}]},
       {"email_address": "two@small.example"}]},
    {"organization_id": "organization-test-other", "organization_name": "Other", "organization_slug": "other", "suspended": true}]
}]}`

func smallSeeds() (yaml, json string) {
	return strings.Replace(smallYAML, "KEY", indent(pemKey, 12), 1),
		strings.Replace(smallJSON, "KEY", strconv.Quote(pemKey), 1)
}

func TestDemoSeed(t *testing.T) {
	s := demo.Seed()
	if len(s.Projects) != 1 {
		t.Fatalf("%d projects, want 1", len(s.Projects))
	}
	p := s.Projects[0]
	if p.ProjectID != "" || p.Secret != "" {
		t.Errorf("the demo project names credentials (%q); it should take the configured ones", p.ProjectID)
	}
	var profiles []string
	for _, pr := range p.TrustedTokenProfiles {
		profiles = append(profiles, pr.ProfileID)
	}
	if !reflect.DeepEqual(profiles, []string{demo.ProfileID, demo.JITProfileID}) {
		t.Errorf("profiles %v", profiles)
	}
	if len(p.Organizations) != 2 || p.Organizations[0].OrganizationID != demo.OrganizationID ||
		p.Organizations[1].OrganizationID != demo.SuspendedOrganizationID || !p.Organizations[1].Suspended {
		t.Fatalf("organizations %+v", p.Organizations)
	}
	if n := len(p.Organizations[0].Members); n != 3 {
		t.Errorf("Acme has %d members, want 3", n)
	}
	if demo.Seed() == s || &demo.Seed().Projects[0] == &s.Projects[0] {
		t.Error("demo.Seed returns shared state")
	}
}

func TestJSONAndYAMLParseEqually(t *testing.T) {
	y, j := smallSeeds()
	fromYAML, err := seed.Parse("small.yaml", []byte(y))
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	fromJSON, err := seed.Parse("small.json", []byte(j))
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Fatalf("YAML and JSON seeds differ\nYAML %+v\nJSON %+v", fromYAML, fromJSON)
	}
	// JSON is YAML: the JSON text parses the same under a .yaml name.
	fromJSONAsYAML, err := seed.Parse("small.yaml", []byte(j))
	if err != nil || !reflect.DeepEqual(fromJSONAsYAML, fromJSON) {
		t.Fatalf("JSON parsed as YAML: %v", err)
	}

	p := fromYAML.Projects[0]
	pr := p.TrustedTokenProfiles[0]
	if p.ProjectID != "project-test-small" || p.Secret != "secret-small" || pr.Name != "Small IdP" || !pr.CanJITProvision ||
		pr.AttributeMapping.RoleIDs != "roles" || len(pr.PEMFiles) != 1 || pr.PEMFiles[0] != pemKey ||
		p.TrustedTokenProfiles[1].JWKSURL != "https://idp.small.invalid/jwks" {
		t.Errorf("project or profiles parsed wrong: %+v", p)
	}
	o := p.Organizations[0]
	if o.OrganizationExternalID == nil || *o.OrganizationExternalID != "small-ext" || o.TrustedMetadata["tier"] != float64(2) ||
		o.Suspended || !p.Organizations[1].Suspended {
		t.Errorf("organization parsed wrong: %+v", o)
	}
	m := o.Members[0]
	if m.MemberID != "member-test-small-one" || m.Status != "invited" || !m.IsAdmin || len(m.Roles) != 1 || m.Roles[0].RoleID != "editor" {
		t.Errorf("member parsed wrong: %+v", m)
	}
}

func TestLoad(t *testing.T) {
	y, j := smallSeeds()
	dir := t.TempDir()
	for name, text := range map[string]string{"seed.yaml": y, "seed.yml": y, "seed.json": j, "seed.JSON": j} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := seed.Load(p)
		if err != nil || len(s.Projects) != 1 {
			t.Errorf("Load(%s): %v", name, err)
		}
	}
	missing := filepath.Join(dir, "missing.yaml")
	_, err := seed.Load(missing)
	if want := "seed file " + missing + ": cannot be read: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load(missing): %v, want %q", err, want)
	}
}

// project is a one-project seed whose profiles and organizations are the
// given YAML list items (already indented for their place).
func project(head, profiles, orgs string) string {
	s := "projects:\n  - " + head + "\n"
	if profiles != "" {
		s += "    trusted_token_profiles:\n" + profiles
	}
	if orgs != "" {
		s += "    organizations:\n" + orgs
	}
	return s
}

// profile is one profile list item with the given extra lines; fields in
// drop are left out.
func profile(extra string, drop ...string) string {
	lines := map[string]string{
		"profile_id": "profile_id: p1",
		"issuer":     "issuer: https://idp.invalid",
		"audience":   "audience: aud",
		"keys":       "jwks_url: https://idp.invalid/jwks",
		"mapping":    "attribute_mapping: {email: email, token_id: jti}",
	}
	for _, d := range drop {
		delete(lines, d)
	}
	var b strings.Builder
	first := true
	for _, k := range []string{"profile_id", "issuer", "audience", "keys", "mapping"} {
		if l, ok := lines[k]; ok {
			if first {
				b.WriteString("      - " + l + "\n")
				first = false
			} else {
				b.WriteString("        " + l + "\n")
			}
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(extra), "\n") {
		if l != "" {
			b.WriteString("        " + l + "\n")
		}
	}
	return b.String()
}

// org is one organization list item.
func org(id, slug string, extra ...string) string {
	s := "      - organization_id: " + id + "\n        organization_name: Org " + id + "\n        organization_slug: " + slug + "\n"
	for _, e := range extra {
		s += "        " + e + "\n"
	}
	return s
}

// head is a project's first lines.
const head = "project_id: project-test-x\n    secret: s"

func TestMalformedSeeds(t *testing.T) {
	pemItems := func(n int) string {
		s := "pem_files:\n"
		for range n {
			s += "  - |\n    " + indent(pemKey, 4) + "\n"
		}
		return s
	}
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"bad YAML", "s.yaml", "projects: [\n  - a: b\n",
			"not valid YAML: line 1: did not find expected node content"},
		{"tab in YAML", "s.yaml", "projects:\n\t- x\n",
			"not valid YAML: line 2: found character that cannot start any token"},
		{"bad JSON", "s.json", `{"projects": [}`,
			"not valid JSON at byte 15: invalid character '}' looking for beginning of value"},
		{"empty JSON", "s.json", "",
			"empty"},
		{"data after the JSON object", "s.json", `{"projects": [{}]} {}`,
			"unexpected data after the seed object"},
		{"unknown field", "s.yaml", "projects: [{bogus: 1}]",
			`unknown field "bogus"`},
		{"duplicate YAML key", "s.yaml", "projects: []\nprojects: []",
			`not valid YAML: unmarshal errors: line 2: key "projects" already set in map`},
		{"wrong type", "s.yaml", "projects: [{organizations: 5}]",
			"projects.organizations: expected an array, found a JSON number"},
		{"wrong type, deep", "s.yaml", project(head, "", org("organization-test-a", "aa", "members: [{email_address: a@x.example, is_admin: very}]")),
			"projects.organizations.members.is_admin: expected a boolean, found a JSON string"},
		{"no projects", "s.yaml", "projects: []",
			"projects: at least one project is required"},
		{"empty YAML", "s.yaml", "",
			"projects: at least one project is required"},
		{"project_id without secret", "s.yaml", "projects: [{project_id: project-test-x}]",
			"projects[0]: set both project_id and secret, or neither (to use the emulator's configured credentials)"},
		{"secret without project_id", "s.yaml", "projects: [{}, {secret: s}]",
			"projects[1]: set both project_id and secret, or neither (to use the emulator's configured credentials)"},
		{"two projects without credentials", "s.yaml", "projects: [{}, {}]",
			`projects[1]: only one project may leave out project_id and secret (it takes the configured credentials)`},
		{"duplicate project", "s.yaml", "projects: [{project_id: project-test-x, secret: a}, {project_id: project-test-x, secret: b}]",
			`projects[1].project_id: "project-test-x" appears twice`},
		{"profile without profile_id", "s.yaml", project(head, profile("", "profile_id"), ""),
			"projects[0].trusted_token_profiles[0].profile_id: required"},
		{"duplicate profile", "s.yaml", project(head, profile("")+profile(""), ""),
			`projects[0].trusted_token_profiles[1].profile_id: "p1" appears twice`},
		{"profile without issuer", "s.yaml", project(head, profile("", "issuer"), ""),
			"projects[0].trusted_token_profiles[0]: issuer is required"},
		{"profile without audience", "s.yaml", project(head, profile("", "audience"), ""),
			"projects[0].trusted_token_profiles[0]: audience is required"},
		{"profile without email mapping", "s.yaml", project(head, profile("attribute_mapping: {token_id: jti}", "mapping"), ""),
			"projects[0].trusted_token_profiles[0]: attribute_mapping.email is required"},
		{"profile without token_id mapping", "s.yaml", project(head, profile("attribute_mapping: {email: email}", "mapping"), ""),
			"projects[0].trusted_token_profiles[0]: attribute_mapping.token_id is required"},
		{"profile with jwks_url and pem_files", "s.yaml", project(head, profile(pemItems(1)), ""),
			"projects[0].trusted_token_profiles[0]: set jwks_url or pem_files, not both"},
		{"profile without keys", "s.yaml", project(head, profile("", "keys"), ""),
			"projects[0].trusted_token_profiles[0]: jwks_url or pem_files is required"},
		{"profile with six PEM files", "s.yaml", project(head, profile(pemItems(6), "keys"), ""),
			"projects[0].trusted_token_profiles[0]: at most 5 pem_files are allowed (as in Stytch)"},
		{"bad PEM", "s.yaml", project(head, profile("pem_files: [not a key]", "keys"), ""),
			"projects[0].trusted_token_profiles[0]: pem_files[0]: not a PEM block"},
		{"private key PEM", "s.yaml", project(head, profile("pem_files: [\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\"]", "keys"), ""),
			`projects[0].trusted_token_profiles[0]: pem_files[0]: PEM block "PRIVATE KEY" is not a public key`},
		{"bad jwks_url", "s.yaml", project(head, profile("jwks_url: /jwks", "keys"), ""),
			`projects[0].trusted_token_profiles[0]: jwks_url "/jwks" is not an absolute http(s) URL`},
		{"organization_id without prefix", "s.yaml", project(head, "", org("org-a", "aa")),
			`projects[0].organizations[0].organization_id: "org-a" must start with "organization-"`},
		{"duplicate organization_id", "s.yaml", project(head, "", org("organization-test-a", "aa")+org("organization-test-a", "bb")),
			`projects[0].organizations[1].organization_id: "organization-test-a" appears twice`},
		{"no organization_name", "s.yaml", project(head, "", "      - {organization_id: organization-test-a, organization_slug: aa}\n"),
			"projects[0].organizations[0].organization_name: required, at most 128 characters"},
		{"bad slug", "s.yaml", project(head, "", org("organization-test-a", "a b")),
			`projects[0].organizations[0].organization_slug: "a b" must be 2..128 characters of A-Z a-z 0-9 - . _ ~`},
		{"one-character slug", "s.yaml", project(head, "", org("organization-test-a", "a")),
			`projects[0].organizations[0].organization_slug: "a" must be 2..128 characters of A-Z a-z 0-9 - . _ ~`},
		{"duplicate slug", "s.yaml", project(head, "", org("organization-test-a", "aa")+org("organization-test-b", "aa")),
			`projects[0].organizations[1].organization_slug: "aa" appears twice`},
		{"duplicate external ID", "s.yaml", project(head, "", org("organization-test-a", "aa", "organization_external_id: ext")+
			org("organization-test-b", "bb", "organization_external_id: ext")),
			`projects[0].organizations[1].organization_external_id: "ext" appears twice`},
		{"duplicate member email", "s.yaml", project(head, "", org("organization-test-a", "aa",
			"members: [{email_address: a@x.example}, {email_address: A@X.example}]")),
			`projects[0].organizations[0].members[1].email_address: "A@X.example" appears twice in the organization`},
		{"member email not an address", "s.yaml", project(head, "", org("organization-test-a", "aa", "members: [{email_address: alice}]")),
			`projects[0].organizations[0].members[0].email_address: "alice" is not an email address`},
		{"member of another organization", "s.yaml", project(head, "", org("organization-test-a", "aa",
			"members: [{email_address: a@x.example, organization_id: organization-test-b}]")),
			`projects[0].organizations[0].members[0].organization_id: "organization-test-b" is not the enclosing organization`},
		{"duplicate member_id", "s.yaml", project(head, "", org("organization-test-a", "aa", "members: [{email_address: a@x.example, member_id: m1}]")+
			org("organization-test-b", "bb", "members: [{email_address: a@x.example, member_id: m1}]")),
			`projects[0].organizations[1].members[0].member_id: "m1" appears twice`},
		{"bad status", "s.yaml", project(head, "", org("organization-test-a", "aa", "members: [{email_address: a@x.example, status: banned}]")),
			`projects[0].organizations[0].members[0].status: "banned" is not one of pending, invited, active, deleted`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seed.Parse(tc.file, []byte(tc.text))
			if err == nil {
				t.Fatalf("seed parsed:\n%s", tc.text)
			}
			want := "seed file " + tc.file + ": " + tc.want
			if err.Error() != want {
				t.Errorf("error\n got  %q\n want %q", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			var se *seed.Error
			if !errors.As(err, &se) || se.File != tc.file {
				t.Errorf("error %T does not name file %s", err, tc.file)
			}
		})
	}
}

// TestValidEdgeSeeds are seeds that look odd but are fine.
func TestValidEdgeSeeds(t *testing.T) {
	for name, text := range map[string]string{
		"one project taking the configured credentials": "projects: [{}]",
		"five PEM files": project(head, profile("pem_files:\n"+strings.Repeat("  - |\n    "+indent(pemKey, 4)+"\n", 5), "keys"), ""),
		"the same email in two organizations": project(head, "", org("organization-test-a", "aa", "members: [{email_address: a@x.example}]")+
			org("organization-test-b", "bb", "members: [{email_address: a@x.example}]")),
		"slug of every allowed character": project(head, "", org("organization-test-a", "Az09-._~")),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := seed.Parse("ok.yaml", []byte(text)); err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
		})
	}
}
