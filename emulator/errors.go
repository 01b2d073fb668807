package emulator

import (
	"fmt"
	"net/http"

	"github.com/attestd/attestd/emulator/trustedtoken"
	"github.com/attestd/attestd/emulator/wire"
	"github.com/attestd/attestd/internal/apierr"
)

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
	// The names and statuses are apierr's (README, "The emulator"); a type
	// without a status there is a bug and answers 500.
	status := apierr.HTTPStatusOf(e.typ)
	if status == 0 {
		status, e = http.StatusInternalServerError, &apiError{typ: apierr.TypeInternal, msg: "Unknown error type " + e.typ}
	}
	return status, wire.Error{
		StatusCode:   status,
		RequestID:    requestID,
		ErrorType:    e.typ,
		ErrorMessage: e.msg,
		ErrorURL:     apierr.StytchDocURL(status, e.typ),
	}
}
