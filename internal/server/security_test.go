package server_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	b2bsessionv1 "github.com/attestd/attestd/gen/go/stytch/b2b/session/v1"
	"github.com/attestd/attestd/internal/config"
	"github.com/attestd/attestd/internal/server"
	"github.com/attestd/attestd/internal/stytchtest"
	"github.com/attestd/attestd/internal/testkit/logsink"
	"github.com/attestd/attestd/internal/testkit/testpki"
)

// secure is attestd started in process with TLS on both listeners (and
// whatever caller policy the test sets), in front of a fake Stytch. Tests
// build their own clients: each needs its own TLS identity.
type secure struct {
	pki    *testpki.PKI
	stytch *stytchtest.Server
	srv    *server.Server
	logs   *logsink.Logs
	rest   string // https://127.0.0.1:port
}

func startSecure(t *testing.T, pki *testpki.PKI, mutate ...func(*config.Config)) *secure {
	t.Helper()
	h := &secure{pki: pki, stytch: stytchtest.NewServer(t), logs: &logsink.Logs{}}
	cfg := config.Default()
	cfg.ProjectID, cfg.Secret = stytchtest.ProjectID, config.Secret(stytchtest.Secret)
	cfg.BaseURL = h.stytch.URL
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	cfg.TLSCertFile, cfg.TLSKeyFile = h.pki.CertFile, h.pki.KeyFile
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Start(ctx(t), cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	h.srv = srv
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	h.rest = "https://" + srv.HTTPAddr().String()
	return h
}

// mtls requires client certificates from the test CA, admitting the
// identities listed (any, when none are).
func mtls(pki *testpki.PKI, allowed ...string) func(*config.Config) {
	return func(c *config.Config) {
		c.TLSClientCAFile = pki.CAFile
		c.TLSAllowedClients = strings.Join(allowed, ",")
	}
}

// tokenFile writes a tokens file and returns a config change using it.
func tokenFile(t *testing.T, lines string) func(*config.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.AuthTokensFile = path }
}

// conn is a gRPC connection to attestd: TLS with tlsCfg, or plaintext when
// tlsCfg is nil.
func (h *secure) conn(t *testing.T, tlsCfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	c, err := grpc.NewClient(h.srv.GRPCAddr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// attest calls Attest over a new gRPC connection with the metadata pairs md.
func (h *secure) attest(t *testing.T, tlsCfg *tls.Config, md ...string) error {
	t.Helper()
	return attestOn(t, h.conn(t, tlsCfg), md...)
}

// attestOn calls Attest over conn with the metadata pairs md.
func attestOn(t *testing.T, conn *grpc.ClientConn, md ...string) error {
	t.Helper()
	c := ctx(t)
	if len(md) > 0 {
		c = metadata.AppendToOutgoingContext(c, md...)
	}
	_, err := b2bsessionv1.NewSessionServiceClient(conn).Attest(c, validRequest())
	return err
}

// client is an HTTPS client (HTTP/2 when the server agrees) with tlsCfg;
// nil is a plain HTTP client.
func (h *secure) client(t *testing.T, tlsCfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// restResult is one REST exchange: err is a transport failure (refused
// handshake, say), else status, header and body are the answer.
type restResult struct {
	err    error
	status int
	header http.Header
	body   []byte
	tls    *tls.ConnectionState
}

// do sends method path with the header pairs given over client.
func (h *secure) do(t *testing.T, client *http.Client, method, path, body string, header ...string) restResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, h.rest+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return restResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return restResult{err: err}
	}
	return restResult{status: resp.StatusCode, header: resp.Header, body: b, tls: resp.TLS}
}

// post is an Attest over REST with tlsCfg.
func (h *secure) post(t *testing.T, tlsCfg *tls.Config, header ...string) restResult {
	t.Helper()
	return h.do(t, h.client(t, tlsCfg), http.MethodPost, "/v1/b2b/sessions/attest", validJSON, header...)
}

// wantOK checks a successful REST Attest: 200 with Stytch's JSON.
func wantOK(t *testing.T, r restResult) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("REST: %v", r.err)
	}
	if r.status != http.StatusOK {
		t.Fatalf("REST status %d: %s", r.status, r.body)
	}
	if !stytchtest.JSONEqual(t, r.body, stytchtest.Typical()) {
		t.Errorf("REST body is not Stytch's answer: %.200s", r.body)
	}
}

// wantRefusedGRPC checks a call refused at the transport: Unavailable,
// without attestd's error details (no call was ever read).
func wantRefusedGRPC(t *testing.T, err error) {
	t.Helper()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC: %v; want Unavailable", err)
	}
	t.Logf("refused as expected: %v", err)
}

// callLog is the "call" log line of the call with this request ID.
func (h *secure) callLog(t *testing.T, requestID string) map[string]any {
	t.Helper()
	for _, l := range h.logs.Lines(t) {
		if l["msg"] == "call" && l["request_id"] == requestID {
			return l
		}
	}
	t.Fatalf("no call log line with request_id %q:\n%s", requestID, h.logs.String())
	return nil
}

// wantCaller checks the call log line of requestID names the caller.
func (h *secure) wantCaller(t *testing.T, requestID, caller, via string) {
	t.Helper()
	l := h.callLog(t, requestID)
	if l["caller"] != caller || l["caller_via"] != via || l["peer"] != "127.0.0.1" {
		t.Errorf("call %s logged as caller %v via %v from %v; want %q via %s from 127.0.0.1",
			requestID, l["caller"], l["caller_via"], l["peer"], caller, via)
	}
}

func TestTLSOnly(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki)
	trusted := pki.ClientTLS(nil)

	t.Run("gRPC", func(t *testing.T) {
		wantRefusedGRPC(t, h.attest(t, nil))
		var p peer.Peer
		c := metadata.AppendToOutgoingContext(ctx(t), "x-request-id", "tls-grpc")
		_, err := b2bsessionv1.NewSessionServiceClient(h.conn(t, trusted)).Attest(c, validRequest(), grpc.Peer(&p))
		if err != nil {
			t.Fatalf("gRPC over TLS: %v", err)
		}
		if info, ok := p.AuthInfo.(credentials.TLSInfo); !ok || info.State.Version < tls.VersionTLS12 {
			t.Errorf("call did not travel over TLS: %v", p.AuthInfo)
		}
		h.wantCaller(t, "tls-grpc", "", "anonymous")
	})
	t.Run("REST", func(t *testing.T) {
		// Plain HTTP to the TLS port gets net/http's own 400, never a call.
		plainURL := strings.Replace(h.rest, "https://", "http://", 1)
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, plainURL+"/v1/b2b/sessions/attest", strings.NewReader(validJSON))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := h.client(t, nil).Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP to the TLS listener: status %d", resp.StatusCode)
			}
		}
		// A client that does not trust the test CA refuses the server.
		if r := h.post(t, &tls.Config{ServerName: "127.0.0.1"}); r.err == nil {
			t.Errorf("HTTPS without the test CA: status %d", r.status)
		}
		r := h.post(t, trusted, "X-Request-Id", "tls-rest")
		wantOK(t, r)
		if r.tls == nil || r.tls.Version < tls.VersionTLS12 {
			t.Errorf("REST did not travel over TLS: %v", r.tls)
		}
		h.wantCaller(t, "tls-rest", "", "anonymous")
	})
	t.Run("forged identity without client certificates", func(t *testing.T) {
		// Without client certificates every caller is anonymous, whatever
		// it claims.
		wantOK(t, h.post(t, trusted, "X-Request-Id", "tls-forged-rest",
			"Grpc-Metadata-X-Attestd-Peer-Cert", "svc-a.internal",
			"Grpc-Metadata-X-Attestd-Peer-Addr", "10.9.9.9"))
		h.wantCaller(t, "tls-forged-rest", "", "anonymous")
		if err := h.attest(t, trusted, "x-request-id", "tls-forged-grpc",
			"x-attestd-peer-cert", "svc-a.internal", "x-attestd-peer-addr", "10.9.9.9"); err != nil {
			t.Fatal(err)
		}
		h.wantCaller(t, "tls-forged-grpc", "", "anonymous")
	})
	if n := h.stytch.Calls(); n != 4 {
		t.Errorf("upstream calls = %d, want 4", n)
	}
}

// certCase is a client identity and whether attestd must admit it.
type certCase struct {
	name string
	cert *testpki.Cert
	ok   bool
}

// checkCertCases makes one Attest per case and protocol; admitted calls
// are logged under want.
func checkCertCases(t *testing.T, h *secure, cases []certCase, want string) {
	t.Helper()
	admitted := int64(0)
	for i, tc := range cases {
		cfg := h.pki.ClientTLS(tc.cert)
		t.Run(tc.name+"/gRPC", func(t *testing.T) {
			id := fmt.Sprintf("cert-%d-grpc", i)
			err := h.attest(t, cfg, "x-request-id", id)
			if !tc.ok {
				wantRefusedGRPC(t, err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			admitted++
			h.wantCaller(t, id, want, "mtls")
		})
		t.Run(tc.name+"/REST", func(t *testing.T) {
			id := fmt.Sprintf("cert-%d-rest", i)
			r := h.post(t, cfg, "X-Request-Id", id)
			if !tc.ok {
				if r.err == nil {
					t.Fatalf("admitted: status %d %s", r.status, r.body)
				}
				t.Logf("refused as expected: %v", r.err)
				return
			}
			wantOK(t, r)
			admitted++
			h.wantCaller(t, id, want, "mtls")
		})
	}
	if n := h.stytch.Calls(); n != admitted {
		t.Errorf("upstream calls = %d, want %d (refused callers must not get through)", n, admitted)
	}
}

func TestMutualTLSAllowList(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki, mtls(pki, "svc-a.internal"))
	checkCertCases(t, h, []certCase{
		{"allowed certificate", pki.Client(t, "svc-a.internal"), true},
		{"same CA, not on the list", pki.Client(t, "svc-b.internal"), false},
		{"allowed name from another CA", pki.ForeignClient(t, "svc-a.internal"), false},
		{"no client certificate", nil, false},
	}, "svc-a.internal")
}

func TestMutualTLSWithoutAllowList(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki, mtls(pki))
	checkCertCases(t, h, []certCase{
		{"any certificate of the CA", pki.Client(t, "svc-b.internal"), true},
		{"another CA's certificate", pki.ForeignClient(t, "svc-b.internal"), false},
		{"no client certificate", nil, false},
	}, "svc-b.internal")
}

func TestBearerTokensBothProtocols(t *testing.T) {
	const (
		good  = "tok-svc-a-5d41402abc4b2a76b9719d91"
		wrong = "tok-wrong-7d793037a0760186574b0282"
	)
	pki := testpki.New(t)
	h := startSecure(t, pki, tokenFile(t, "# attestd callers\nsvc-a "+good+"\n"))
	cfg := pki.ClientTLS(nil)
	conn := h.conn(t, cfg)

	refused := []struct{ name, authorization string }{
		{"wrong token", "Bearer " + wrong},
		{"no token", ""},
		{"Basic scheme", "Basic " + good},
		{"scheme without token", "Bearer"},
	}
	for _, tc := range refused {
		t.Run(tc.name+"/gRPC", func(t *testing.T) {
			var md []string
			if tc.authorization != "" {
				md = []string{"authorization", tc.authorization}
			}
			err := attestOn(t, conn, md...)
			st, se, info := details(t, err)
			if st.Code() != codes.Unauthenticated || se.GetErrorType() != "unauthorized_credentials" ||
				se.GetStatusCode() != 401 || info.GetDomain() != "attestd" {
				t.Errorf("got %v %v (domain %q)", st.Code(), se, info.GetDomain())
			}
			if strings.Contains(fmt.Sprint(st.Proto()), wrong) || strings.Contains(fmt.Sprint(st.Proto()), good) {
				t.Error("the presented token is in the error")
			}
		})
		t.Run(tc.name+"/REST", func(t *testing.T) {
			var hdr []string
			if tc.authorization != "" {
				hdr = []string{"Authorization", tc.authorization}
			}
			r := h.post(t, cfg, hdr...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			m := stytchErrorOf(t, r.status, r.body)
			if r.status != http.StatusUnauthorized || m["error_type"] != "unauthorized_credentials" {
				t.Errorf("REST: %d %s", r.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="attestd", Basic realm="attestd"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if strings.Contains(string(r.body), wrong) || strings.Contains(fmt.Sprint(r.header), wrong) {
				t.Error("the wrong token is in the response")
			}
		})
	}
	t.Run("right token/gRPC", func(t *testing.T) {
		if err := attestOn(t, conn, "authorization", "Bearer "+good, "x-request-id", "token-grpc"); err != nil {
			t.Fatal(err)
		}
		h.wantCaller(t, "token-grpc", "svc-a", "token")
	})
	t.Run("right token as Basic credentials, as Stytch's SDKs send them/REST", func(t *testing.T) {
		creds := base64.StdEncoding.EncodeToString([]byte("svc-a:" + good))
		r := h.post(t, cfg, "Authorization", "Basic "+creds, "X-Request-Id", "token-basic")
		wantOK(t, r)
		h.wantCaller(t, "token-basic", "svc-a", "token")
	})
	t.Run("right token/REST", func(t *testing.T) {
		r := h.post(t, cfg, "Authorization", "Bearer "+good, "X-Request-Id", "token-rest")
		wantOK(t, r)
		if r.header.Get("WWW-Authenticate") != "" {
			t.Error("WWW-Authenticate on a success")
		}
		h.wantCaller(t, "token-rest", "svc-a", "token")
	})
	if n := h.stytch.Calls(); n != 3 {
		t.Errorf("upstream calls = %d, want 3", n)
	}
	if logs := h.logs.String(); strings.Contains(logs, wrong) || strings.Contains(logs, good) {
		t.Errorf("a caller token reached the logs:\n%s", logs)
	}
}

// listServices asks reflection for the service list with the metadata
// pairs md.
func listServices(t *testing.T, conn *grpc.ClientConn, md ...string) ([]string, error) {
	t.Helper()
	c := ctx(t)
	if len(md) > 0 {
		c = metadata.AppendToOutgoingContext(c, md...)
	}
	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(c)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{},
	}); err != nil && err != io.EOF {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	return names, nil
}

func TestAuthExemptions(t *testing.T) {
	const good = "tok-svc-a-5d41402abc4b2a76b9719d91"
	tokens := tokenFile(t, "svc-a "+good+"\n")
	health := func(t *testing.T, conn *grpc.ClientConn) (*grpc_health_v1.HealthCheckResponse, error) {
		return grpc_health_v1.NewHealthClient(conn).Check(ctx(t), &grpc_health_v1.HealthCheckRequest{})
	}
	wantUnauthenticated := func(t *testing.T, err error) {
		t.Helper()
		st, se, _ := details(t, err)
		if st.Code() != codes.Unauthenticated || se.GetErrorType() != "unauthorized_credentials" {
			t.Errorf("got %v %v; want Unauthenticated unauthorized_credentials", st.Code(), se)
		}
	}

	t.Run("default: health exempt, reflection not", func(t *testing.T) {
		pki := testpki.New(t)
		h := startSecure(t, pki, tokens)
		conn := h.conn(t, pki.ClientTLS(nil))
		if resp, err := health(t, conn); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("gRPC health without a token: %v %v", resp, err)
		}
		r := h.do(t, h.client(t, pki.ClientTLS(nil)), http.MethodGet, "/healthz", "")
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("/healthz without a token: %v %d %s", r.err, r.status, r.body)
		}
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil || body["status"] != "SERVING" {
			t.Errorf("/healthz body %s", r.body)
		}
		_, err := listServices(t, conn)
		wantUnauthenticated(t, err)
		names, err := listServices(t, conn, "authorization", "Bearer "+good)
		if err != nil || !slices.Contains(names, "stytch.b2b.session.v1.SessionService") {
			t.Errorf("reflection with a token: %v %v", names, err)
		}
		// The exemption is health's alone.
		wantUnauthenticated(t, attestOn(t, conn))
	})
	t.Run("reflection exempt when configured", func(t *testing.T) {
		pki := testpki.New(t)
		h := startSecure(t, pki, tokens, func(c *config.Config) { c.AuthExempt = "health,reflection" })
		conn := h.conn(t, pki.ClientTLS(nil))
		names, err := listServices(t, conn)
		if err != nil || !slices.Contains(names, "grpc.health.v1.Health") {
			t.Errorf("reflection without a token: %v %v", names, err)
		}
		if _, err := health(t, conn); err != nil {
			t.Errorf("health without a token: %v", err)
		}
		wantUnauthenticated(t, attestOn(t, conn))
	})
	t.Run("nothing exempt", func(t *testing.T) {
		pki := testpki.New(t)
		h := startSecure(t, pki, tokens, func(c *config.Config) { c.AuthExempt = "none" })
		conn := h.conn(t, pki.ClientTLS(nil))
		_, err := health(t, conn)
		wantUnauthenticated(t, err)
		r := h.do(t, h.client(t, pki.ClientTLS(nil)), http.MethodGet, "/healthz", "")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if m := stytchErrorOf(t, r.status, r.body); r.status != http.StatusUnauthorized || m["error_type"] != "unauthorized_credentials" {
			t.Errorf("/healthz without a token: %d %s", r.status, r.body)
		}
		r = h.do(t, h.client(t, pki.ClientTLS(nil)), http.MethodGet, "/healthz", "", "Authorization", "Bearer "+good)
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("/healthz with a token: %v %d %s", r.err, r.status, r.body)
		}
	})
}

// TestForgedIdentity: the identity attestd acts on is the one the TLS
// connection proved, whatever metadata or headers claim.
func TestForgedIdentity(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki, mtls(pki, "svc-a.internal", "svc-b.internal"))
	a := pki.ClientTLS(pki.Client(t, "svc-a.internal"))
	b := pki.ClientTLS(pki.Client(t, "svc-b.internal"))

	wantOK(t, h.post(t, a, "X-Request-Id", "forge-rest-a"))
	h.wantCaller(t, "forge-rest-a", "svc-a.internal", "mtls")

	wantOK(t, h.post(t, b, "X-Request-Id", "forge-rest-b",
		"Grpc-Metadata-X-Attestd-Peer-Cert", "svc-a.internal",
		"Grpc-Metadata-X-Attestd-Peer-Addr", "10.9.9.9",
		"X-Attestd-Peer-Cert", "svc-a.internal"))
	h.wantCaller(t, "forge-rest-b", "svc-b.internal", "mtls")

	if err := h.attest(t, b, "x-request-id", "forge-grpc-b",
		"x-attestd-peer-cert", "svc-a.internal", "x-attestd-peer-addr", "10.9.9.9"); err != nil {
		t.Fatal(err)
	}
	h.wantCaller(t, "forge-grpc-b", "svc-b.internal", "mtls")
}

func TestRateLimitBothProtocols(t *testing.T) {
	limited := func(c *config.Config) { c.RateLimit, c.RateBurst = 1, 2 }
	t.Run("gRPC", func(t *testing.T) {
		pki := testpki.New(t)
		h := startSecure(t, pki, limited)
		conn := h.conn(t, pki.ClientTLS(nil))
		for i := range 2 {
			if err := attestOn(t, conn); err != nil {
				t.Fatalf("call %d within the burst: %v", i+1, err)
			}
		}
		err := attestOn(t, conn)
		st, se, _ := details(t, err)
		if st.Code() != codes.ResourceExhausted || se.GetErrorType() != "too_many_requests" || se.GetStatusCode() != 429 {
			t.Fatalf("third call: %v %v", st.Code(), se)
		}
		var retry *errdetails.RetryInfo
		for _, d := range st.Details() {
			if r, ok := d.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
		if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
			t.Errorf("RetryInfo %v; want a positive delay", retry)
		}
		if n := h.stytch.Calls(); n != 2 {
			t.Errorf("upstream calls = %d, want 2", n)
		}
	})
	t.Run("REST", func(t *testing.T) {
		pki := testpki.New(t)
		h := startSecure(t, pki, limited)
		client := h.client(t, pki.ClientTLS(nil))
		for i := range 2 {
			r := h.do(t, client, http.MethodPost, "/v1/b2b/sessions/attest", validJSON)
			if r.err != nil || r.status != http.StatusOK {
				t.Fatalf("call %d within the burst: %v %d %s", i+1, r.err, r.status, r.body)
			}
		}
		r := h.do(t, client, http.MethodPost, "/v1/b2b/sessions/attest", validJSON)
		if r.err != nil {
			t.Fatal(r.err)
		}
		m := stytchErrorOf(t, r.status, r.body)
		if r.status != http.StatusTooManyRequests || m["error_type"] != "too_many_requests" {
			t.Fatalf("third call: %d %s", r.status, r.body)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("Retry-After %q; want whole seconds >= 1", r.header.Get("Retry-After"))
		}
		if n := h.stytch.Calls(); n != 2 {
			t.Errorf("upstream calls = %d, want 2", n)
		}
	})
}

// serverSerials makes one call per protocol over new connections and
// returns the serial numbers of the certificates the server presented.
func serverSerials(t *testing.T, h *secure) (grpcSerial, restSerial *big.Int) {
	t.Helper()
	var p peer.Peer
	if _, err := b2bsessionv1.NewSessionServiceClient(h.conn(t, h.pki.ClientTLS(nil))).Attest(ctx(t), validRequest(), grpc.Peer(&p)); err != nil {
		t.Fatalf("gRPC: %v", err)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		t.Fatalf("gRPC peer %v has no server certificate", p.AuthInfo)
	}
	r := h.post(t, h.pki.ClientTLS(nil))
	wantOK(t, r)
	if r.tls == nil || len(r.tls.PeerCertificates) == 0 {
		t.Fatal("REST response has no server certificate")
	}
	return info.State.PeerCertificates[0].SerialNumber, r.tls.PeerCertificates[0].SerialNumber
}

func TestCertificateRotation(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki)
	wantSerials := func(t *testing.T, want *big.Int, when string) {
		t.Helper()
		g, r := serverSerials(t, h)
		if g.Cmp(want) != 0 || r.Cmp(want) != 0 {
			t.Errorf("%s: gRPC sees serial %v, REST %v; want %v", when, g, r, want)
		}
	}
	first := pki.ServerLeaf.SerialNumber
	wantSerials(t, first, "at start")
	open := h.conn(t, pki.ClientTLS(nil)) // a connection made before the rotation
	if err := attestOn(t, open); err != nil {
		t.Fatal(err)
	}

	pki.RotateServer(t)
	if err := h.srv.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	second := pki.ServerLeaf.SerialNumber
	if second.Cmp(first) == 0 {
		t.Fatal("rotation kept the serial")
	}
	wantSerials(t, second, "after ReloadTLS")
	if err := attestOn(t, open); err != nil {
		t.Errorf("a connection made before the rotation broke: %v", err)
	}

	// A botched rotation: ReloadTLS fails, the current certificate stays.
	if err := os.WriteFile(pki.CertFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.ReloadTLS(); err == nil {
		t.Error("ReloadTLS of a garbage certificate succeeded")
	}
	wantSerials(t, second, "after a failed ReloadTLS")
}

func TestMaxCallDeadline(t *testing.T) {
	pki := testpki.New(t)
	h := startSecure(t, pki, func(c *config.Config) { c.MaxCallDeadline = 200 * time.Millisecond })
	entered := make(chan struct{}, 2)
	left := make(chan error, 2)
	testDone := make(chan struct{})
	t.Cleanup(func() { close(testDone) }) // runs before the fake Stytch closes
	h.stytch.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
			left <- r.Context().Err()
		case <-testDone:
			left <- fmt.Errorf("still waiting when the test ended")
		}
	}))
	// waitUpstream waits for the fake Stytch's call to be abandoned.
	waitUpstream := func(t *testing.T) {
		t.Helper()
		select {
		case <-entered:
		case <-ctx(t).Done():
			t.Fatal("the call never reached the fake Stytch")
		}
		select {
		case err := <-left:
			if err == nil || !strings.Contains(err.Error(), "canceled") {
				t.Errorf("upstream request ended with %v; want its context canceled", err)
			}
		case <-ctx(t).Done():
			t.Fatal("the upstream request was never abandoned")
		}
	}

	t.Run("gRPC", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx(t), 30*time.Second)
		defer cancel()
		conn := h.conn(t, pki.ClientTLS(nil))
		began := time.Now()
		_, err := b2bsessionv1.NewSessionServiceClient(conn).Attest(c, validRequest())
		took := time.Since(began)
		st, se, _ := details(t, err)
		if st.Code() != codes.DeadlineExceeded || se.GetErrorType() != "upstream_timeout" || se.GetStatusCode() != 504 {
			t.Errorf("got %v %v; want DeadlineExceeded upstream_timeout", st.Code(), se)
		}
		if c.Err() != nil || took >= 10*time.Second {
			t.Errorf("call took %v: the 30s caller deadline was not capped", took)
		}
		waitUpstream(t)
	})
	t.Run("REST", func(t *testing.T) {
		began := time.Now()
		r := h.post(t, pki.ClientTLS(nil), "Grpc-Timeout", "30S")
		took := time.Since(began)
		if r.err != nil {
			t.Fatal(r.err)
		}
		m := stytchErrorOf(t, r.status, r.body)
		if r.status != http.StatusGatewayTimeout || m["error_type"] != "upstream_timeout" {
			t.Errorf("REST: %d %s", r.status, r.body)
		}
		if took >= 10*time.Second {
			t.Errorf("call took %v: the 30s deadline was not capped", took)
		}
		waitUpstream(t)
	})
}
