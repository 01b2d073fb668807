package trustedtoken

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS caching: keys are kept for jwksTTL; a kid that is not in the cache
// triggers a refetch (key rotation), but at most once per jwksRefetchGap, so
// a stream of tokens with made-up kids cannot turn the emulator into a
// request amplifier against the IdP.
const (
	jwksTTL        = 10 * time.Minute
	jwksRefetchGap = 10 * time.Second
	maxJWKSBytes   = 1 << 20
)

type jwks struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	cached    []jose.JSONWebKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
}

func newJWKS(raw string, client *http.Client, now func() time.Time) (*jwks, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("jwks_url %q is not an absolute http(s) URL", raw)
	}
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &jwks{url: raw, client: client, now: now}, nil
}

func (j *jwks) keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	fresh := !j.fetchedAt.IsZero() && now.Sub(j.fetchedAt) < jwksTTL
	if fresh && (kid == "" || hasKID(j.cached, kid)) {
		return j.cached, nil
	}
	if !j.triedAt.IsZero() && now.Sub(j.triedAt) < jwksRefetchGap {
		if j.fetchedAt.IsZero() {
			return nil, errors.New("the JWKS URL failed moments ago")
		}
		return j.cached, nil
	}
	j.triedAt = now
	keys, err := j.fetch(ctx)
	if err != nil {
		if fresh {
			return j.cached, nil
		}
		return nil, err
	}
	j.cached, j.fetchedAt = keys, now
	return keys, nil
}

func (j *jwks) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET JWKS: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("GET JWKS: document larger than 1 MiB")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("GET JWKS: not a JWK set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		// Only asymmetric signing keys; a private key published by mistake
		// is used by its public half, a symmetric one not at all.
		if !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if !k.IsPublic() {
			if k = k.Public(); !k.Valid() {
				continue
			}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("GET JWKS: no usable signing key")
	}
	return keys, nil
}

func hasKID(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
