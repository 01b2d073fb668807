package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/attestd/attestd/internal/apierr"
)

// Stytch's verdict on attestd's own project credentials.
//
// Stytch answers a wrong project ID or secret with 401
// unauthorized_credentials, the very answer attestd gives a caller without a
// valid bearer token. Passed on as-is it would blame the caller, and be
// logged as a caller's mistake, for attestd's misconfiguration. So that one
// answer (and only it: any other 4xx is Stytch's verdict on the caller's
// request, and no caller must be able to make a replica look misconfigured)
// becomes attestd's own upstream_credentials_rejected, and the Client
// remembers it until attestd's credentials are seen to work again.

// CredentialsRejected reports whether Stytch's last verdict on attestd's
// project credentials was a rejection: true from a 401
// unauthorized_credentials until an attest succeeds or CheckCredentials
// passes.
func (c *Client) CredentialsRejected() bool { return c.credentialsRejected.Load() }

// CheckCredentials asks Stytch whether attestd's project credentials are
// good, without creating a session: it sends attest an empty body, `{}`,
// with the project's Basic auth. Stytch checks the credentials before the
// body, so a 401 unauthorized_credentials means rejected (an
// upstream_credentials_rejected error; the state is set), and a Stytch 400
// (the body lacks profile_id and token) means Stytch accepted them and went
// on to judge the body (nil; the rejected state is cleared). Anything else
// (a transport failure, a timeout, another status, an answer that is not
// Stytch's) tells nothing and changes nothing, and is returned as the error
// attest would have given for it. The server calls it every few seconds
// while CredentialsRejected, so a fixed secret (or a fixed Stytch) makes
// the replica ready again without waiting for a caller.
//
// Not the JWKS route: Stytch's SDKs fetch it without credentials, so its
// answer says nothing about them.
//
// It bypasses the circuit breaker and the concurrency limit (it is one call
// every few seconds, and must work while they refuse calls), is not told to
// Options.Observe (it is not an attest), and is bounded by Options.Timeout
// and ctx.
func (c *Client) CheckCredentials(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.Timeout, errUpstreamTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	if code < 400 {
		// An empty body never makes a session; whatever this is, it is
		// not Stytch judging it.
		return apierr.UpstreamError(code)
	}
	raw, err := readCapped(resp.Body, c.opts.MaxResponseBytes, resp.ContentLength)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return apierr.UpstreamResponseTooLarge.Wrap(err, fmt.Sprintf("Stytch's answer exceeds %d bytes", c.opts.MaxResponseBytes))
		}
		return transportError(ctx, err)
	}
	e, fromStytch := decodeError(code, raw)
	switch {
	case credentialsRejected(e):
		return c.rejected(e)
	case fromStytch && code == http.StatusBadRequest:
		c.setCredentials(false)
		return nil
	}
	return e
}

// credentialsRejected reports whether e is Stytch refusing attestd's own
// credentials: its 401 unauthorized_credentials, nothing else.
func credentialsRejected(e *apierr.Error) bool {
	return e.Domain == apierr.DomainStytch && e.Body.GetStatusCode() == http.StatusUnauthorized &&
		e.Body.GetErrorType() == apierr.TypeUnauthorizedCredentials
}

// rejected records Stytch's rejection of attestd's credentials and returns
// the caller's error for it. Stytch's request_id is kept, for Stytch's
// support; the secret is never named.
func (c *Client) rejected(stytch *apierr.Error) *apierr.Error {
	c.setCredentials(true)
	e := apierr.UpstreamCredentialsRejected.Wrap(stytch,
		"Stytch rejected attestd's project credentials (project ID and secret): attestd is misconfigured")
	e.Body.RequestId = stytch.Body.GetRequestId()
	return e.Bound()
}

// setCredentials records Stytch's verdict and tells Options.OnCredentials
// when it changed. The fast path, no change, takes no lock.
func (c *Client) setCredentials(rejected bool) {
	if c.credentialsRejected.Load() == rejected {
		return
	}
	c.credentialsMu.Lock()
	defer c.credentialsMu.Unlock()
	if c.credentialsRejected.Load() == rejected {
		return // another call made the same change first
	}
	c.credentialsRejected.Store(rejected)
	if c.opts.OnCredentials != nil {
		c.opts.OnCredentials(rejected)
	}
}
