package apierr

import (
	"fmt"
	"maps"
	"slices"
)

// Stytch's error types that attestd's emulator raises (attestd itself only
// passes them on). The names are from Stytch's SDKs' error-type enum; the
// names attestd raises itself, some of them Stytch's too, are the Type
// constants in apierr.go.
const (
	TypeInvalidTrustedAuthToken           = "invalid_trusted_auth_token"
	TypeJWTInvalidIssuer                  = "jwt_invalid_issuer"
	TypeJWTInvalidAudience                = "jwt_invalid_audience"
	TypeJWTInvalidClaims                  = "jwt_invalid_claims"
	TypeTokenMissingOrganizationIDClaim   = "token_missing_organization_id_claim"
	TypeInvalidTokenOrganizationIDClaim   = "invalid_token_organization_id_claim"
	TypeTrustedTokenProfileNotFound       = "trusted_token_profile_not_found"
	TypeStytchClaimsInCustomClaims        = "stytch_claims_in_custom_claims"
	TypeUnableToRepresentCustomClaimsJSON = "unable_to_represent_custom_claims_json"
	TypeInvalidOrganizationID             = "invalid_organization_id"
	TypeOrganizationNotFound              = "organization_not_found"
	TypeOrganizationSuspended             = "organization_suspended"
	TypeMemberNotFound                    = "member_not_found"
	TypeSessionNotFound                   = "session_not_found"
	TypeUnableToParseSessionJWT           = "unable_to_parse_session_jwt"
	TypeProjectNotFound                   = "project_not_found"
)

// stytchStatus is every Stytch error type attestd knows by name (an attest
// or the emulator's session and JWKS calls can plausibly answer them) with
// the HTTP status Stytch answers it with. Stytch publishes no per-endpoint
// list: statuses marked "inferred" follow Stytch's conventions rather than a
// documented sample (README, "The emulator"). 0: a name attestd only
// recognises (neither it nor its emulator raises it), status not recorded.
var stytchStatus = map[string]int{
	TypeUnauthorizedCredentials:             401, // documented
	TypeBadRequest:                          400, // documented status
	TypeInternal:                            500, // documented
	TypeTooManyRequests:                     429, // documented
	TypeInvalidSessionDurationMinutes:       400, // inferred
	TypeTooManySessionArguments:             400, // inferred
	TypeCustomClaimsTooLarge:                400, // inferred
	TypeStytchClaimsInCustomClaims:          400, // inferred
	TypeUnableToRepresentCustomClaimsJSON:   400, // inferred
	TypeTrustedTokenProfileNotFound:         404, // inferred
	TypeInvalidTrustedAuthToken:             400, // a Stytch SDK test mocks it as 400
	TypeJWTInvalidIssuer:                    400, // inferred
	TypeJWTInvalidAudience:                  400, // inferred
	TypeJWTInvalidClaims:                    400, // inferred
	TypeTokenMissingOrganizationIDClaim:     400, // inferred
	TypeInvalidTokenOrganizationIDClaim:     400, // inferred
	TypeInvalidOrganizationID:               400, // inferred
	TypeOrganizationNotFound:                404, // inferred
	TypeOrganizationSuspended:               403, // B2B 403 page
	TypeMemberNotFound:                      404, // inferred
	TypeSessionNotFound:                     404, // consumer samples
	TypeUnableToParseSessionJWT:             400, // inferred
	TypeProjectNotFound:                     404, // inferred
	"invalid_argument":                      0,
	"use_https":                             0,
	"trusted_token_profile_invalid_request": 0,
	"email_jit_provisioning_not_allowed":    0,
	"invalid_session_token":                 0,
	"reserved_claims_in_custom_claims":      0,
}

// typeStatus is every error type attestd knows by name, Stytch's and its
// own (its kinds, and the names byCode gives statuses from grpc-go or the
// gateway), with its HTTP status. The one list the emulator's answers and
// the metrics' bounded error_type label derive from.
var typeStatus = func() map[string]int {
	m := maps.Clone(stytchStatus)
	for _, k := range append(slices.Collect(maps.Values(byCode)), kinds...) {
		if s, ok := m[k.Type]; ok && s != 0 && s != k.HTTPStatus {
			panic(fmt.Sprintf("apierr: error type %s has HTTP status %d and %d", k.Type, s, k.HTTPStatus))
		}
		m[k.Type] = k.HTTPStatus
	}
	return m
}()

// kinds are attestd's own failures.
var kinds = []Kind{
	BadRequest, InvalidSessionDurationMinutes, TooManySessionArguments, CustomClaimsTooLarge, RequestTooLarge,
	RouteNotFound, MethodNotAllowed, UnsupportedMediaType, UpstreamTimeout, UpstreamUnavailable, UpstreamInvalidResponse,
	UpstreamResponseTooLarge, RequestCanceled, Internal, UnauthorizedCredentials, TooManyRequests,
	UpstreamOverloaded, UpstreamCircuitOpen, UpstreamCredentialsRejected, upstreamError,
}

// Types returns every error type attestd knows by name, sorted: Stytch's
// and attestd's own. Any other name is one Stytch (or a proxy in its place)
// made up, which metrics must not turn into a label value.
func Types() []string {
	return slices.Sorted(maps.Keys(typeStatus))
}

// HTTPStatusOf returns the HTTP status that goes with an error type, or 0
// for a type not in Types or one whose status is not recorded.
func HTTPStatusOf(errorType string) int {
	return typeStatus[errorType]
}

// StytchDocURL is the page of Stytch's documentation for an error type
// answered with httpStatus, in Stytch's current form.
func StytchDocURL(httpStatus int, errorType string) string {
	return fmt.Sprintf("https://stytch.com/docs/api-reference/b2b/api/errors/%d#%s", httpStatus, errorType)
}

// docURL is error_url for an error attestd raises: Stytch's page for the
// types that are Stytch's (Stytch publishes their documentation), none for
// attestd's own names.
func docURL(httpStatus int, errorType string) string {
	if _, ok := stytchStatus[errorType]; !ok {
		return ""
	}
	return StytchDocURL(httpStatus, errorType)
}
