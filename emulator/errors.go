package emulator

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
)

// Stytch error types the emulator answers with, and their HTTP statuses.
// Stytch publishes no per-endpoint list for attest: the names are from its
// SDKs' error-type enum, and statuses marked "inferred" follow Stytch's
// conventions rather than a documented sample (README, "The emulator").
const (
	typeUnauthorized         = "unauthorized_credentials"               // 401, documented
	typeBadRequest           = "bad_request"                            // 400, documented status
	typeInternal             = "internal_server_error"                  // 500, documented
	typeDuration             = "invalid_session_duration_minutes"       // 400, inferred
	typeTooManySessionArgs   = "too_many_session_arguments"             // 400, inferred
	typeClaimsTooLarge       = "custom_claims_too_large"                // 400, inferred
	typeStytchClaims         = "stytch_claims_in_custom_claims"         // 400, inferred
	typeClaimsNotJSONObject  = "unable_to_represent_custom_claims_json" // 400, inferred
	typeProfileNotFound      = "trusted_token_profile_not_found"        // 404, inferred
	typeMissingOrgClaim      = "token_missing_organization_id_claim"    // 400, inferred
	typeInvalidOrgClaim      = trustedtoken.TypeInvalidOrgClaim         // 400, inferred
	typeInvalidOrganization  = "invalid_organization_id"                // 400, inferred
	typeOrganizationNotFound = "organization_not_found"                 // 404, inferred
	typeOrganizationSuspend  = "organization_suspended"                 // 403, B2B 403 page
	typeMemberNotFound       = "member_not_found"                       // 404, inferred
	typeSessionNotFound      = "session_not_found"                      // 404, consumer samples
	typeUnparsableSessionJWT = "unable_to_parse_session_jwt"            // 400, inferred
	typeProjectNotFound      = "project_not_found"                      // 404, inferred
	typeRouteNotFound        = "route_not_found"                        // 404, inferred
	typeMethodNotAllowed     = "method_not_allowed"                     // 405, inferred
)

// statusOf is the single table of HTTP statuses; a type missing from it is
// a bug and answers 500.
var statusOf = map[string]int{
	typeUnauthorized:                 http.StatusUnauthorized,
	typeBadRequest:                   http.StatusBadRequest,
	typeInternal:                     http.StatusInternalServerError,
	typeDuration:                     http.StatusBadRequest,
	typeTooManySessionArgs:           http.StatusBadRequest,
	typeClaimsTooLarge:               http.StatusBadRequest,
	typeStytchClaims:                 http.StatusBadRequest,
	typeClaimsNotJSONObject:          http.StatusBadRequest,
	typeProfileNotFound:              http.StatusNotFound,
	trustedtoken.TypeInvalidToken:    http.StatusBadRequest,
	trustedtoken.TypeInvalidIssuer:   http.StatusBadRequest,
	trustedtoken.TypeInvalidAudience: http.StatusBadRequest,
	trustedtoken.TypeInvalidClaims:   http.StatusBadRequest,
	typeMissingOrgClaim:              http.StatusBadRequest,
	typeInvalidOrgClaim:              http.StatusBadRequest,
	typeInvalidOrganization:          http.StatusBadRequest,
	typeOrganizationNotFound:         http.StatusNotFound,
	typeOrganizationSuspend:          http.StatusForbidden,
	typeMemberNotFound:               http.StatusNotFound,
	typeSessionNotFound:              http.StatusNotFound,
	typeUnparsableSessionJWT:         http.StatusBadRequest,
	typeProjectNotFound:              http.StatusNotFound,
	typeRouteNotFound:                http.StatusNotFound,
	typeMethodNotAllowed:             http.StatusMethodNotAllowed,
}

// apiError is a Stytch error answer in the making.
type apiError struct {
	typ, msg string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func errorf(typ, format string, args ...any) *apiError {
	return &apiError{typ: typ, msg: fmt.Sprintf(format, args...)}
}

func fromFailure(f *trustedtoken.Failure) *apiError { return &apiError{typ: f.Type, msg: f.Message} }

// body renders the error in Stytch's shape, status_code equal to the HTTP
// status and error_url in Stytch's current form.
func (e *apiError) body(requestID string) (int, wire.Error) {
	status, ok := statusOf[e.typ]
	if !ok {
		status, e = http.StatusInternalServerError, &apiError{typ: typeInternal, msg: "Unknown error type " + e.typ}
	}
	return status, wire.Error{
		StatusCode:   status,
		RequestID:    requestID,
		ErrorType:    e.typ,
		ErrorMessage: e.msg,
		ErrorURL:     "https://stytch.com/docs/api-reference/b2b/api/errors/" + strconv.Itoa(status) + "#" + e.typ,
	}
}
