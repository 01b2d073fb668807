package demo_test

import (
	"strings"
	"testing"

	"github.com/attestd/attestd/emulator/demo"
)

func TestResolveOrganization(t *testing.T) {
	for in, want := range map[string]string{
		"":                            demo.OrganizationID,
		"acme":                        demo.OrganizationID,
		"acme-idp-tenant":             demo.OrganizationID,
		demo.OrganizationID:           demo.OrganizationID,
		"suspended-co":                demo.SuspendedOrganizationID,
		"organization-test-elsewhere": "organization-test-elsewhere",
	} {
		if got := demo.ResolveOrganization(in); got != want {
			t.Errorf("ResolveOrganization(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokenProfiles(t *testing.T) {
	for _, profile := range []string{demo.ProfileID, demo.JITProfileID} {
		tok, org, err := demo.Token(demo.TokenOptions{Profile: profile, Organization: "acme"})
		if err != nil || org != demo.OrganizationID || strings.Count(tok, ".") != 2 {
			t.Errorf("%s: %q %q %v", profile, tok, org, err)
		}
		if _, err := demo.PrivateKey(profile); err != nil {
			t.Errorf("%s: private key: %v", profile, err)
		}
	}
	if _, _, err := demo.Token(demo.TokenOptions{Profile: "nope"}); err == nil || !strings.Contains(err.Error(), `"nope" is not a demo profile`) {
		t.Errorf("unknown profile: %v", err)
	}
}
