// Package wire holds plain Go structs that render Stytch's B2B JSON wire
// format (as returned by POST /v1/b2b/sessions/attest) exactly.
//
// Conventions, following the Stytch schema:
//   - Always-present fields carry no omitempty, so false, "" and [] are
//     emitted. Call Normalize before marshalling so nil slices render as []
//     rather than null.
//   - Optional fields are pointers or maps and are left out when nil.
//     Maps use omitzero rather than omitempty so that a present but empty
//     object (e.g. a role source's "details": {}) survives a round trip.
//   - Timestamps are time.Time (always present) or *time.Time (optional);
//     encoding/json renders them as RFC 3339 (UTC values end in "Z").
//   - Free-form objects are map[string]any.
package wire

import (
	"reflect"
	"time"
)

// AttestResponse is the success body of POST /v1/b2b/sessions/attest
// (member_device is never emitted by the emulator).
type AttestResponse struct {
	// RequestID is the per-call unique ID.
	RequestID string `json:"request_id"`
	// MemberID is the ID of the authenticated Member.
	MemberID string `json:"member_id"`
	// MemberSession is the resulting Member Session.
	MemberSession MemberSession `json:"member_session"`
	// SessionToken is the opaque session token.
	SessionToken string `json:"session_token"`
	// SessionJWT is the signed session JWT.
	SessionJWT string `json:"session_jwt"`
	// Member is the authenticated Member.
	Member Member `json:"member"`
	// Organization is the Member's Organization.
	Organization Organization `json:"organization"`
	// StatusCode mirrors the HTTP status (200 on success).
	StatusCode int32 `json:"status_code"`
}

// Normalize replaces nil always-present slices in the nested objects with
// empty ones.
func (r *AttestResponse) Normalize() {
	r.MemberSession.Normalize()
	r.Member.Normalize()
	r.Organization.Normalize()
}

// Error is the body of every Stytch API error.
type Error struct {
	// StatusCode is the HTTP status, repeated in the body.
	StatusCode int `json:"status_code"`
	// RequestID is the per-call unique ID.
	RequestID string `json:"request_id"`
	// ErrorType is the machine-readable snake_case error code.
	ErrorType string `json:"error_type"`
	// ErrorMessage is the human-readable description.
	ErrorMessage string `json:"error_message"`
	// ErrorURL links to the error's documentation.
	ErrorURL string `json:"error_url"`
	// ErrorDetails is optional extra structured information.
	ErrorDetails map[string]any `json:"error_details,omitzero"`
}

// MemberSession is a B2B Member Session.
type MemberSession struct {
	// MemberSessionID is the session ID.
	MemberSessionID string `json:"member_session_id"`
	// MemberID is the owning Member's ID.
	MemberID string `json:"member_id"`
	// StartedAt is the session creation time.
	StartedAt time.Time `json:"started_at"`
	// LastAccessedAt is the last time the session was authenticated.
	LastAccessedAt time.Time `json:"last_accessed_at"`
	// ExpiresAt is the session expiry time.
	ExpiresAt time.Time `json:"expires_at"`
	// AuthenticationFactors are the factors that make up the session.
	AuthenticationFactors []AuthenticationFactor `json:"authentication_factors"`
	// OrganizationID is the session's Organization.
	OrganizationID string `json:"organization_id"`
	// Roles are the role IDs effective for the session.
	Roles []string `json:"roles"`
	// OrganizationSlug is the Organization's slug.
	OrganizationSlug string `json:"organization_slug"`
	// CustomClaims are arbitrary claims attached to the session.
	CustomClaims map[string]any `json:"custom_claims,omitzero"`
}

// Normalize replaces nil always-present slices with empty ones.
func (s *MemberSession) Normalize() {
	s.AuthenticationFactors = nonNil(s.AuthenticationFactors)
	s.Roles = nonNil(s.Roles)
}

// AuthenticationFactor is one factor of a session. Only the scalar part and
// the trusted-auth-token sub-factor are modelled: the emulator issues no
// other kind.
type AuthenticationFactor struct {
	// Type is the factor type, e.g. "trusted_auth_token".
	Type string `json:"type"`
	// DeliveryMethod is how the factor was delivered, e.g. "trusted_token_exchange".
	DeliveryMethod string `json:"delivery_method"`
	// LastAuthenticatedAt is when the factor was last authenticated.
	LastAuthenticatedAt *time.Time `json:"last_authenticated_at,omitempty"`
	// CreatedAt is when the factor was first authenticated.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// UpdatedAt is when the factor was last updated.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// TrustedAuthTokenFactor identifies the attested trusted token.
	TrustedAuthTokenFactor *TrustedAuthTokenFactor `json:"trusted_auth_token_factor,omitempty"`
}

// TrustedAuthTokenFactor is the sub-factor added by a trusted-token attest.
type TrustedAuthTokenFactor struct {
	// TokenID is the ID (token_id mapping, usually jti) of the trusted token.
	TokenID string `json:"token_id"`
}

// Member is a B2B Organization Member.
type Member struct {
	// OrganizationID is the owning Organization's ID.
	OrganizationID string `json:"organization_id"`
	// MemberID is the Member's ID.
	MemberID string `json:"member_id"`
	// EmailAddress is the Member's primary email.
	EmailAddress string `json:"email_address"`
	// Status is one of pending, invited, active, deleted.
	Status string `json:"status"`
	// Name is the Member's display name.
	Name string `json:"name"`
	// SSORegistrations are the Member's SAML/OIDC registrations.
	SSORegistrations []SSORegistration `json:"sso_registrations"`
	// IsBreakglass reports whether the Member may bypass auth restrictions.
	IsBreakglass bool `json:"is_breakglass"`
	// MemberPasswordID is the password ID, empty when none.
	MemberPasswordID string `json:"member_password_id"`
	// OAuthRegistrations are the Member's linked OAuth identities.
	OAuthRegistrations []OAuthRegistration `json:"oauth_registrations"`
	// EmailAddressVerified reports whether the email is verified.
	EmailAddressVerified bool `json:"email_address_verified"`
	// MFAPhoneNumberVerified reports whether the MFA phone is verified.
	MFAPhoneNumberVerified bool `json:"mfa_phone_number_verified"`
	// IsAdmin reports whether the Member holds stytch_admin.
	IsAdmin bool `json:"is_admin"`
	// TOTPRegistrationID is the TOTP registration ID, empty when none.
	TOTPRegistrationID string `json:"totp_registration_id"`
	// RetiredEmailAddresses are previous, retired email addresses.
	RetiredEmailAddresses []RetiredEmail `json:"retired_email_addresses"`
	// IsLocked reports whether the Member is temporarily locked.
	IsLocked bool `json:"is_locked"`
	// MFAEnrolled reports whether the Member must always complete MFA.
	MFAEnrolled bool `json:"mfa_enrolled"`
	// MFAPhoneNumber is the E.164 MFA phone number.
	MFAPhoneNumber string `json:"mfa_phone_number"`
	// DefaultMFAMethod is sms_otp or totp.
	DefaultMFAMethod string `json:"default_mfa_method"`
	// Roles are the Member's role assignments with their sources.
	Roles []MemberRole `json:"roles"`
	// TrustedMetadata is backend-writable arbitrary JSON.
	TrustedMetadata map[string]any `json:"trusted_metadata,omitzero"`
	// UntrustedMetadata is frontend-writable arbitrary JSON.
	UntrustedMetadata map[string]any `json:"untrusted_metadata,omitzero"`
	// CreatedAt is the creation time.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// UpdatedAt is the last update time.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// SCIMRegistration is the SCIM provisioning record, if any.
	SCIMRegistration *SCIMRegistration `json:"scim_registration,omitempty"`
	// ExternalID is the developer-assigned external ID.
	ExternalID *string `json:"external_id,omitempty"`
	// LockCreatedAt is when the current or last lock started.
	LockCreatedAt *time.Time `json:"lock_created_at,omitempty"`
	// LockExpiresAt is when the current or last lock ends.
	LockExpiresAt *time.Time `json:"lock_expires_at,omitempty"`
}

// Normalize replaces nil always-present slices with empty ones, recursively.
func (m *Member) Normalize() {
	m.SSORegistrations = nonNil(m.SSORegistrations)
	m.OAuthRegistrations = nonNil(m.OAuthRegistrations)
	m.RetiredEmailAddresses = nonNil(m.RetiredEmailAddresses)
	m.Roles = nonNil(m.Roles)
	for i := range m.Roles {
		m.Roles[i].Normalize()
	}
	m.SCIMRegistration.Normalize()
}

// SSORegistration is a Member's SAML/OIDC registration.
type SSORegistration struct {
	// ConnectionID is the SSO connection ID.
	ConnectionID string `json:"connection_id"`
	// ExternalID is the Member's ID at the IdP.
	ExternalID string `json:"external_id"`
	// RegistrationID is the SSO registration ID.
	RegistrationID string `json:"registration_id"`
	// SSOAttributes are arbitrary IdP attributes.
	SSOAttributes map[string]any `json:"sso_attributes,omitzero"`
}

// OAuthRegistration is a Member's linked OAuth identity.
type OAuthRegistration struct {
	// ProviderType is the OAuth provider name, e.g. "Google".
	ProviderType string `json:"provider_type"`
	// ProviderSubject is the user ID at the provider.
	ProviderSubject string `json:"provider_subject"`
	// MemberOAuthRegistrationID is the OAuth registration ID.
	MemberOAuthRegistrationID string `json:"member_oauth_registration_id"`
	// ProfilePictureURL is the avatar URL from the provider.
	ProfilePictureURL *string `json:"profile_picture_url,omitempty"`
	// Locale is the locale from the provider.
	Locale *string `json:"locale,omitempty"`
}

// RetiredEmail is a Member's previous, retired email address.
type RetiredEmail struct {
	// EmailID is the retired email's ID.
	EmailID string `json:"email_id"`
	// EmailAddress is the retired address.
	EmailAddress string `json:"email_address"`
}

// MemberRole is an RBAC role held by a Member.
type MemberRole struct {
	// RoleID is the RBAC role ID.
	RoleID string `json:"role_id"`
	// Sources explain why the role is held.
	Sources []MemberRoleSource `json:"sources"`
}

// Normalize replaces a nil Sources slice with an empty one.
func (r *MemberRole) Normalize() {
	r.Sources = nonNil(r.Sources)
}

// MemberRoleSource is one reason a Member holds a role.
type MemberRoleSource struct {
	// Type is e.g. direct_assignment, email_assignment, sso_connection.
	Type string `json:"type"`
	// Details is type-specific metadata.
	Details map[string]any `json:"details,omitzero"`
}

// SCIMRegistration is a Member's SCIM provisioning record.
type SCIMRegistration struct {
	// ConnectionID is the SCIM connection ID.
	ConnectionID string `json:"connection_id"`
	// RegistrationID is the SCIM registration ID.
	RegistrationID string `json:"registration_id"`
	// ExternalID is the Member's ID at the IdP.
	ExternalID *string `json:"external_id,omitempty"`
	// SCIMAttributes are the SCIM user attributes pushed by the IdP.
	SCIMAttributes *SCIMAttributes `json:"scim_attributes,omitempty"`
}

// Normalize normalizes the SCIM attributes, if any. It is a no-op on nil.
func (r *SCIMRegistration) Normalize() {
	if r != nil {
		r.SCIMAttributes.Normalize()
	}
}

// SCIMAttributes are SCIM 2.0 user attributes in snake_case.
type SCIMAttributes struct {
	// UserName is the SCIM userName.
	UserName string `json:"user_name"`
	// ID is the SCIM id.
	ID string `json:"id"`
	// ExternalID is the SCIM externalId.
	ExternalID string `json:"external_id"`
	// Active is the SCIM active flag.
	Active bool `json:"active"`
	// Groups are the SCIM group memberships.
	Groups []SCIMGroup `json:"groups"`
	// DisplayName is the SCIM displayName.
	DisplayName string `json:"display_name"`
	// NickName is the SCIM nickName.
	NickName string `json:"nick_name"`
	// ProfileURL is the SCIM profileUrl.
	ProfileURL string `json:"profile_url"`
	// UserType is the SCIM userType.
	UserType string `json:"user_type"`
	// Title is the SCIM title.
	Title string `json:"title"`
	// PreferredLanguage is the SCIM preferredLanguage.
	PreferredLanguage string `json:"preferred_language"`
	// Locale is the SCIM locale.
	Locale string `json:"locale"`
	// Timezone is the SCIM timezone.
	Timezone string `json:"timezone"`
	// Emails are the SCIM emails.
	Emails []SCIMValue `json:"emails"`
	// PhoneNumbers are the SCIM phoneNumbers.
	PhoneNumbers []SCIMValue `json:"phone_numbers"`
	// Addresses are the SCIM addresses.
	Addresses []SCIMAddress `json:"addresses"`
	// IMs are the SCIM ims.
	IMs []SCIMValue `json:"ims"`
	// Photos are the SCIM photos.
	Photos []SCIMValue `json:"photos"`
	// Entitlements are the SCIM entitlements.
	Entitlements []SCIMValue `json:"entitlements"`
	// Roles are the SCIM roles (not RBAC roles).
	Roles []SCIMValue `json:"roles"`
	// X509Certificates are the SCIM x509Certificates.
	X509Certificates []SCIMValue `json:"x509certificates"`
	// Name is the structured name.
	Name *SCIMName `json:"name,omitempty"`
	// EnterpriseExtension is the enterprise user extension.
	EnterpriseExtension *SCIMEnterpriseExtension `json:"enterprise_extension,omitempty"`
}

// Normalize replaces nil always-present slices with empty ones. It is a
// no-op on nil.
func (a *SCIMAttributes) Normalize() {
	if a == nil {
		return
	}
	a.Groups = nonNil(a.Groups)
	a.Emails = nonNil(a.Emails)
	a.PhoneNumbers = nonNil(a.PhoneNumbers)
	a.Addresses = nonNil(a.Addresses)
	a.IMs = nonNil(a.IMs)
	a.Photos = nonNil(a.Photos)
	a.Entitlements = nonNil(a.Entitlements)
	a.Roles = nonNil(a.Roles)
	a.X509Certificates = nonNil(a.X509Certificates)
}

// SCIMGroup is a SCIM group membership.
type SCIMGroup struct {
	// Value is the group ID.
	Value string `json:"value"`
	// Display is the group display name.
	Display string `json:"display"`
}

// SCIMValue is the shared {value,type,primary} shape of SCIM emails,
// phone numbers, IMs, photos, entitlements, roles and x509 certificates.
type SCIMValue struct {
	// Value is the attribute value.
	Value string `json:"value"`
	// Type is the attribute type label, e.g. "work".
	Type string `json:"type"`
	// Primary marks the primary value.
	Primary bool `json:"primary"`
}

// SCIMAddress is a SCIM address.
type SCIMAddress struct {
	// Formatted is the full address.
	Formatted string `json:"formatted"`
	// StreetAddress is the street part.
	StreetAddress string `json:"street_address"`
	// Locality is the city.
	Locality string `json:"locality"`
	// Region is the state or region.
	Region string `json:"region"`
	// PostalCode is the postal code.
	PostalCode string `json:"postal_code"`
	// Country is the country.
	Country string `json:"country"`
	// Type is the address type label, e.g. "work".
	Type string `json:"type"`
	// Primary marks the primary address.
	Primary bool `json:"primary"`
}

// SCIMName is a SCIM structured name.
type SCIMName struct {
	// Formatted is the full name.
	Formatted string `json:"formatted"`
	// FamilyName is the family name.
	FamilyName string `json:"family_name"`
	// GivenName is the given name.
	GivenName string `json:"given_name"`
	// MiddleName is the middle name.
	MiddleName string `json:"middle_name"`
	// HonorificPrefix is e.g. "Ms.".
	HonorificPrefix string `json:"honorific_prefix"`
	// HonorificSuffix is e.g. "III".
	HonorificSuffix string `json:"honorific_suffix"`
}

// SCIMEnterpriseExtension is the SCIM enterprise user extension.
type SCIMEnterpriseExtension struct {
	// EmployeeNumber is the employee number.
	EmployeeNumber string `json:"employee_number"`
	// CostCenter is the cost center.
	CostCenter string `json:"cost_center"`
	// Division is the division.
	Division string `json:"division"`
	// Department is the department.
	Department string `json:"department"`
	// Organization is the organization name.
	Organization string `json:"organization"`
	// Manager is the user's manager.
	Manager *SCIMManager `json:"manager,omitempty"`
}

// SCIMManager is a SCIM manager reference.
type SCIMManager struct {
	// Value is the manager's SCIM ID.
	Value string `json:"value"`
	// Ref is the manager's SCIM resource URI.
	Ref string `json:"ref"`
	// DisplayName is the manager's display name.
	DisplayName string `json:"display_name"`
}

// Organization is a B2B Organization.
type Organization struct {
	// OrganizationID is the Organization ID.
	OrganizationID string `json:"organization_id"`
	// OrganizationName is the Organization's name.
	OrganizationName string `json:"organization_name"`
	// OrganizationLogoURL is the logo URL ("" when none).
	OrganizationLogoURL string `json:"organization_logo_url"`
	// OrganizationSlug is the URL slug.
	OrganizationSlug string `json:"organization_slug"`
	// SSOJITProvisioning is ALL_ALLOWED, RESTRICTED or NOT_ALLOWED.
	SSOJITProvisioning string `json:"sso_jit_provisioning"`
	// SSOJITProvisioningAllowedConnections are the connections allowed to JIT-provision.
	SSOJITProvisioningAllowedConnections []string `json:"sso_jit_provisioning_allowed_connections"`
	// SSOActiveConnections are the active SAML/OIDC connections.
	SSOActiveConnections []ActiveSSOConnection `json:"sso_active_connections"`
	// EmailAllowedDomains are the domains allowed for invites and email JIT.
	EmailAllowedDomains []string `json:"email_allowed_domains"`
	// EmailJITProvisioning is RESTRICTED or NOT_ALLOWED.
	EmailJITProvisioning string `json:"email_jit_provisioning"`
	// EmailInvites is ALL_ALLOWED, RESTRICTED or NOT_ALLOWED.
	EmailInvites string `json:"email_invites"`
	// AuthMethods is ALL_ALLOWED or RESTRICTED.
	AuthMethods string `json:"auth_methods"`
	// AllowedAuthMethods are the primary methods allowed when RESTRICTED.
	AllowedAuthMethods []string `json:"allowed_auth_methods"`
	// MFAPolicy is OPTIONAL or REQUIRED_FOR_ALL.
	MFAPolicy string `json:"mfa_policy"`
	// RBACEmailImplicitRoleAssignments grant roles by email domain.
	RBACEmailImplicitRoleAssignments []EmailImplicitRoleAssignment `json:"rbac_email_implicit_role_assignments"`
	// MFAMethods is ALL_ALLOWED or RESTRICTED.
	MFAMethods string `json:"mfa_methods"`
	// AllowedMFAMethods are the allowed MFA methods (sms_otp, totp).
	AllowedMFAMethods []string `json:"allowed_mfa_methods"`
	// OAuthTenantJITProvisioning is RESTRICTED or NOT_ALLOWED.
	OAuthTenantJITProvisioning string `json:"oauth_tenant_jit_provisioning"`
	// ClaimedEmailDomains are the email domains claimed by the Organization.
	ClaimedEmailDomains []string `json:"claimed_email_domains"`
	// FirstPartyConnectedAppsAllowedType is ALL_ALLOWED, RESTRICTED or NOT_ALLOWED.
	FirstPartyConnectedAppsAllowedType string `json:"first_party_connected_apps_allowed_type"`
	// AllowedFirstPartyConnectedApps are the allowed first-party Connected App IDs.
	AllowedFirstPartyConnectedApps []string `json:"allowed_first_party_connected_apps"`
	// ThirdPartyConnectedAppsAllowedType is ALL_ALLOWED, RESTRICTED or NOT_ALLOWED.
	ThirdPartyConnectedAppsAllowedType string `json:"third_party_connected_apps_allowed_type"`
	// AllowedThirdPartyConnectedApps are the allowed third-party Connected App IDs.
	AllowedThirdPartyConnectedApps []string `json:"allowed_third_party_connected_apps"`
	// CustomRoles are the Organization-scoped custom RBAC roles.
	CustomRoles []CustomRole `json:"custom_roles"`
	// TrustedMetadata is backend-writable arbitrary JSON.
	TrustedMetadata map[string]any `json:"trusted_metadata,omitzero"`
	// CreatedAt is the creation time.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// UpdatedAt is the last update time.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// OrganizationExternalID is the developer-assigned external ID.
	OrganizationExternalID *string `json:"organization_external_id,omitempty"`
	// SSODefaultConnectionID is the default SSO connection.
	SSODefaultConnectionID *string `json:"sso_default_connection_id,omitempty"`
	// SCIMActiveConnection is the active SCIM connection.
	SCIMActiveConnection *ActiveSCIMConnection `json:"scim_active_connection,omitempty"`
	// AllowedOAuthTenants maps an OAuth provider to allowed tenant IDs.
	AllowedOAuthTenants map[string]any `json:"allowed_oauth_tenants,omitzero"`
}

// Normalize replaces nil always-present slices with empty ones, recursively.
func (o *Organization) Normalize() {
	o.SSOJITProvisioningAllowedConnections = nonNil(o.SSOJITProvisioningAllowedConnections)
	o.SSOActiveConnections = nonNil(o.SSOActiveConnections)
	o.EmailAllowedDomains = nonNil(o.EmailAllowedDomains)
	o.AllowedAuthMethods = nonNil(o.AllowedAuthMethods)
	o.RBACEmailImplicitRoleAssignments = nonNil(o.RBACEmailImplicitRoleAssignments)
	o.AllowedMFAMethods = nonNil(o.AllowedMFAMethods)
	o.ClaimedEmailDomains = nonNil(o.ClaimedEmailDomains)
	o.AllowedFirstPartyConnectedApps = nonNil(o.AllowedFirstPartyConnectedApps)
	o.AllowedThirdPartyConnectedApps = nonNil(o.AllowedThirdPartyConnectedApps)
	o.CustomRoles = nonNil(o.CustomRoles)
	for i := range o.CustomRoles {
		o.CustomRoles[i].Normalize()
	}
}

// ActiveSSOConnection is an active SAML/OIDC connection.
type ActiveSSOConnection struct {
	// ConnectionID is the SSO connection ID.
	ConnectionID string `json:"connection_id"`
	// DisplayName is the connection's display name.
	DisplayName string `json:"display_name"`
	// IdentityProvider is the IdP name, e.g. "okta".
	IdentityProvider string `json:"identity_provider"`
}

// EmailImplicitRoleAssignment grants a role to Members of an email domain.
type EmailImplicitRoleAssignment struct {
	// Domain is the email domain.
	Domain string `json:"domain"`
	// RoleID is the granted role.
	RoleID string `json:"role_id"`
}

// CustomRole is an Organization-scoped custom RBAC role.
type CustomRole struct {
	// RoleID is the custom role ID.
	RoleID string `json:"role_id"`
	// Description is the role description.
	Description string `json:"description"`
	// Permissions are the role's resource/action grants.
	Permissions []CustomRolePermission `json:"permissions"`
}

// Normalize replaces nil always-present slices with empty ones, recursively.
func (r *CustomRole) Normalize() {
	r.Permissions = nonNil(r.Permissions)
	for i := range r.Permissions {
		r.Permissions[i].Normalize()
	}
}

// CustomRolePermission grants actions on one RBAC resource.
type CustomRolePermission struct {
	// ResourceID is the RBAC resource ID.
	ResourceID string `json:"resource_id"`
	// Actions are the allowed actions on the resource.
	Actions []string `json:"actions"`
}

// Normalize replaces a nil Actions slice with an empty one.
func (p *CustomRolePermission) Normalize() {
	p.Actions = nonNil(p.Actions)
}

// ActiveSCIMConnection is an Organization's active SCIM connection.
type ActiveSCIMConnection struct {
	// ConnectionID is the SCIM connection ID.
	ConnectionID string `json:"connection_id"`
	// DisplayName is the connection's display name.
	DisplayName string `json:"display_name"`
	// BearerTokenLastFour is the last four characters of the bearer token.
	BearerTokenLastFour string `json:"bearer_token_last_four"`
	// BearerTokenExpiresAt is the bearer token's expiry.
	BearerTokenExpiresAt *time.Time `json:"bearer_token_expires_at,omitempty"`
}

// nonNil returns s, or an empty non-nil slice if s is nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// JSONKind names a Go type as the JSON value that decodes into it ("a
// string", "an integer", …), for error messages written for people who
// write JSON, not Go.
func JSONKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return JSONKind(t.Elem())
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return "a number"
}
