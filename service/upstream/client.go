// Package upstream is attestd's HTTP client for Stytch's B2B API: it sends
// `POST /v1/b2b/sessions/attest` with the project's Basic credentials and
// turns every answer — success, Stytch error, garbage, silence — into either a
// decoded AttestResponse or an *apierr.Error with the right code.
package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	errorv1 "github.com/attestd/attestd/gen/go/stytch/error/v1"
	"github.com/attestd/attestd/service/apierr"
	"github.com/attestd/attestd/service/translate"
)

// AttestPath is Stytch's route for the operation.
const AttestPath = "/v1/b2b/sessions/attest"

// Default Stytch hosts, chosen by project-ID prefix as Stytch's SDKs do.
const (
	LiveBaseURL = "https://api.stytch.com"
	TestBaseURL = "https://test.stytch.com"
)

// DefaultBaseURL returns the Stytch host Stytch's SDKs would use for the
// project: live for `project-live-…` IDs, test otherwise.
func DefaultBaseURL(projectID string) string {
	if strings.HasPrefix(projectID, "project-live-") {
		return LiveBaseURL
	}
	return TestBaseURL
}

// Options configure a Client.
type Options struct {
	// BaseURL is Stytch's scheme://host[:port][/prefix], without trailing slash.
	BaseURL string
	// ProjectID and Secret are the project's Basic-auth credentials.
	ProjectID, Secret string
	// Timeout caps each upstream call; the caller's deadline may shorten it.
	Timeout time.Duration
	// MaxResponseBytes caps the upstream body attestd will read.
	MaxResponseBytes int64
	// UserAgent is sent to Stytch.
	UserAgent string
	// Drift is told about unknown keys in Stytch's answers; may be nil.
	Drift translate.DriftReporter
	// Transport overrides the HTTP transport (tests); nil means a tuned default.
	Transport http.RoundTripper
}

// Client calls Stytch. It is safe for concurrent use and reuses connections.
type Client struct {
	opts       Options
	url        string
	authHeader string
	http       *http.Client
}

// Defaults for Options left zero.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
)

// New returns a Client for the given options.
func New(opts Options) *Client {
	rt := opts.Transport
	if rt == nil {
		rt = NewTransport()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return &Client{
		opts:       opts,
		url:        strings.TrimSuffix(opts.BaseURL, "/") + AttestPath,
		authHeader: "Basic " + base64.StdEncoding.EncodeToString([]byte(opts.ProjectID+":"+opts.Secret)),
		// No http.Client.Timeout: the per-call context carries the budget.
		http: &http.Client{Transport: rt},
	}
}

// NewTransport is the HTTP transport attestd uses towards Stytch: keep-alive
// connections sized for a busy service, bounded handshakes.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 0 // the context deadline governs
	return t
}

// attestBody is the JSON attestd sends: Stytch's request keys, empty values
// omitted as Stytch's Go SDK does.
type attestBody struct {
	ProfileID              string          `json:"profile_id"`
	Token                  string          `json:"token"`
	OrganizationID         string          `json:"organization_id,omitempty"`
	SessionDurationMinutes int32           `json:"session_duration_minutes,omitempty"`
	SessionCustomClaims    json.RawMessage `json:"session_custom_claims,omitempty"`
	SessionToken           string          `json:"session_token,omitempty"`
	SessionJWT             string          `json:"session_jwt,omitempty"`
	TelemetryID            string          `json:"telemetry_id,omitempty"`
}

// MaxCustomClaimsBytes is Stytch's cap on session_custom_claims as JSON.
const MaxCustomClaimsBytes = 4096

// EncodeRequest renders an AttestRequest as the JSON body Stytch expects.
// It enforces Stytch's 4 KB cap on session_custom_claims here, where the
// bytes are produced (protovalidate cannot measure serialized size), so an
// oversized request is refused before anything goes upstream.
func EncodeRequest(in *b2bsessionv1.AttestRequest) ([]byte, error) {
	b := attestBody{
		ProfileID:              in.GetProfileId(),
		Token:                  in.GetToken(),
		OrganizationID:         in.GetOrganizationId(),
		SessionDurationMinutes: in.GetSessionDurationMinutes(),
		SessionToken:           in.GetSessionToken(),
		SessionJWT:             in.GetSessionJwt(),
		TelemetryID:            in.GetTelemetryId(),
	}
	if claims := in.GetSessionCustomClaims(); claims != nil {
		// Compact and deterministic: the bytes Stytch receives, and so the
		// bytes its limit counts.
		raw, err := json.Marshal(claims.AsMap())
		if err != nil {
			return nil, apierr.BadRequest.Wrap(err, "session_custom_claims cannot be represented as JSON")
		}
		if len(raw) > MaxCustomClaimsBytes {
			return nil, apierr.CustomClaimsTooLarge.New(fmt.Sprintf(
				"session_custom_claims is %d bytes as JSON; the limit is %d", len(raw), MaxCustomClaimsBytes))
		}
		b.SessionCustomClaims = raw
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, apierr.Internal.Wrap(err, "cannot encode the upstream request")
	}
	return body, nil
}

// Attest performs the attest call against Stytch.
func (c *Client) Attest(ctx context.Context, in *b2bsessionv1.AttestRequest) (*b2bsessionv1.AttestResponse, error) {
	body, err := EncodeRequest(in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, apierr.Internal.Wrap(err, "cannot build the upstream request")
	}
	req.Header.Set("Authorization", c.authHeader)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()

	raw, err := readCapped(resp.Body, c.opts.MaxResponseBytes)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, apierr.UpstreamResponseTooLarge.Wrap(err, fmt.Sprintf("Stytch's answer exceeds %d bytes", c.opts.MaxResponseBytes))
		}
		return nil, transportError(ctx, err)
	}

	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, decodeError(resp.StatusCode, raw)
	}
	out := &b2bsessionv1.AttestResponse{}
	if err := translate.Unmarshal(raw, out, c.opts.Drift); err != nil {
		return nil, apierr.UpstreamInvalidResponse.Wrap(err, "Stytch's answer is not a valid attest response")
	}
	if out.GetMemberSession() == nil || out.GetMember() == nil || out.GetOrganization() == nil {
		return nil, apierr.UpstreamInvalidResponse.New("Stytch's answer lacks member_session, member or organization")
	}
	return out, nil
}

var errTooLarge = errors.New("upstream response too large")

func readCapped(r io.Reader, limit int64) ([]byte, error) {
	probe := limit // read one byte past the limit to tell "exactly" from "over"
	if probe < math.MaxInt64 {
		probe++
	}
	raw, err := io.ReadAll(io.LimitReader(r, probe))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, errTooLarge
	}
	return raw, nil
}

// transportError classifies a failure to get a complete answer from Stytch.
func transportError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer within the call's deadline")
	case errors.Is(ctx.Err(), context.Canceled):
		return apierr.RequestCanceled.Wrap(err, "the call was canceled by its caller")
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return apierr.UpstreamTimeout.Wrap(err, "Stytch did not answer in time")
	}
	return apierr.UpstreamUnavailable.Wrap(err, "Stytch could not be reached or broke off its answer")
}

// wireError is Stytch's error body, plus the OAuth2-style keys some Stytch
// endpoints use (read the way Stytch's Node SDK reads them).
type wireError struct {
	StatusCode       int            `json:"status_code"`
	RequestID        string         `json:"request_id"`
	ErrorType        string         `json:"error_type"`
	ErrorMessage     string         `json:"error_message"`
	ErrorURL         string         `json:"error_url"`
	ErrorDetails     map[string]any `json:"error_details"`
	OAuthError       string         `json:"error"`
	OAuthDescription string         `json:"error_description"`
	OAuthURI         string         `json:"error_uri"`
}

// decodeError turns a non-success answer into an *apierr.Error carrying
// Stytch's own error when the body is one.
func decodeError(httpStatus int, raw []byte) error {
	var w wireError
	if err := json.Unmarshal(raw, &w); err != nil || (w.ErrorType == "" && w.OAuthError == "") {
		return apierr.UpstreamError(httpStatus)
	}
	body := &errorv1.StytchError{
		RequestId:    w.RequestID,
		ErrorType:    w.ErrorType,
		ErrorMessage: w.ErrorMessage,
		ErrorUrl:     w.ErrorURL,
	}
	if w.OAuthError != "" {
		body.ErrorType, body.ErrorMessage, body.ErrorUrl = w.OAuthError, w.OAuthDescription, w.OAuthURI
	}
	if w.ErrorDetails != nil {
		if details, err := structpb.NewStruct(w.ErrorDetails); err == nil {
			body.ErrorDetails = details
		}
	}
	return apierr.FromStytch(httpStatus, body)
}
