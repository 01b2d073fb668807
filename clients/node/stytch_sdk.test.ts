/**
 * Stytch's official Node SDK (stytch@14.2.0) against attestd's REST gateway
 * and against the Stytch emulator directly: attestd must be a drop-in base
 * URL for the SDK, answers and errors alike.
 *
 * Run by clients/node_test.go (TestStytchNodeSDK) after `npm run clients:build`:
 *
 *   ATTESTD_HTTP_URL=http://127.0.0.1:8080 ATTESTD_EMULATOR_URL=http://127.0.0.1:PORT \
 *   ATTESTD_DEMO_REQUEST="$(attestd demo-token --request)" \
 *   ATTESTD_UNKNOWN_MEMBER_REQUEST="$(attestd demo-token --email nobody@acme.example --request)" \
 *   node --test clients/node/dist/clients/node/stytch_sdk.test.js
 *
 * The SDK only accepts https in custom_base_url, so the plain-HTTP test
 * servers are given as `env`; the SDK drops any path in it.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import * as stytch from "stytch";

const PROJECT_ID = "project-test-attestd-demo";
const SECRET = "secret-test-attestd-demo-not-a-secret";

/** The keys Stytch documents as always present in an AttestResponse (member_device is optional). */
const ATTEST_RESPONSE_KEYS = [
  "member",
  "member_id",
  "member_session",
  "organization",
  "request_id",
  "session_jwt",
  "session_token",
  "status_code",
];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (clients/node_test.go sets it)`);
  return v;
}

/** The SDK's `env` wants a base URL; a trailing slash is conventional. */
function baseUrl(url: string): string {
  return url.endsWith("/") ? url : url + "/";
}

function request(name: string): stytch.B2BSessionsAttestRequest {
  return JSON.parse(env(name)) as stytch.B2BSessionsAttestRequest;
}

/** Awaits a call that must fail and returns the SDK's StytchError. */
async function stytchError(call: Promise<unknown>): Promise<stytch.StytchError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof stytch.StytchError, `expected the SDK's StytchError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded, expected a StytchError");
}

/**
 * The shape of a JSON value: the key paths of every object, with arrays
 * described by the shapes of their elements. Two responses with equal
 * shapes have the same keys at every level (null counts as its own type).
 */
function shape(v: unknown, path = "$", out: string[] = []): string[] {
  if (Array.isArray(v)) {
    out.push(`${path}: array[${v.length}]`);
    v.forEach((e, i) => shape(e, `${path}[${i}]`, out));
  } else if (v !== null && typeof v === "object") {
    out.push(`${path}: object`);
    for (const k of Object.keys(v).sort()) shape((v as Record<string, unknown>)[k], `${path}.${k}`, out);
  } else {
    out.push(`${path}: ${v === null ? "null" : typeof v}`);
  }
  return out;
}

/** The checks every successful attest for the demo request passes, from attestd or the emulator. */
function checkDemoResponse(resp: stytch.B2BSessionsAttestResponse): void {
  assert.deepEqual(Object.keys(resp).sort(), ATTEST_RESPONSE_KEYS, "AttestResponse keys");
  assert.equal(resp.status_code, 200);
  assert.equal(typeof resp.request_id, "string");
  assert.ok(resp.request_id, "request_id is set");
  assert.equal(resp.member.email_address, "alice@acme.example");
  assert.equal(resp.member.member_id, resp.member_id);
  assert.equal(resp.member_session.member_id, resp.member_id);
  assert.equal(resp.organization.organization_slug, "acme");
  assert.equal(resp.organization.organization_name, "Acme Corp");
  assert.equal(resp.member_session.authentication_factors.length, 1);
  const f = resp.member_session.authentication_factors[0];
  assert.equal(f.type, "trusted_auth_token");
  assert.equal(f.delivery_method, "trusted_token_exchange");
  assert.ok(f.trusted_auth_token_factor?.token_id, "trusted_auth_token_factor.token_id is set");
  assert.equal(
    Date.parse(resp.member_session.expires_at!) - Date.parse(resp.member_session.started_at!),
    60 * 60 * 1000,
    "default session lasts 60 minutes",
  );
  assert.equal(resp.session_token.length, 44);
  assert.equal(resp.session_jwt.split(".").length, 3, "session_jwt is a JWS");
}

describe("Stytch Node SDK → attestd REST gateway and → Stytch emulator", () => {
  // attestd ignores the SDK's Basic credentials (it adds its own); the demo ones are as good as any.
  const viaAttestd = new stytch.B2BClient({ project_id: PROJECT_ID, secret: SECRET, env: baseUrl(env("ATTESTD_HTTP_URL")) });
  const viaEmulator = new stytch.B2BClient({ project_id: PROJECT_ID, secret: SECRET, env: baseUrl(env("ATTESTD_EMULATOR_URL")) });

  let fromAttestd: stytch.B2BSessionsAttestResponse;
  let fromEmulator: stytch.B2BSessionsAttestResponse;
  before(async () => {
    fromAttestd = await viaAttestd.sessions.attest(request("ATTESTD_DEMO_REQUEST"));
    fromEmulator = await viaEmulator.sessions.attest(request("ATTESTD_DEMO_REQUEST"));
  });

  test("via attestd: sessions.attest returns Stytch's AttestResponse", () => {
    checkDemoResponse(fromAttestd);
  });

  test("via attestd: unknown member rejects with StytchError 404 member_not_found", async () => {
    const err = await stytchError(viaAttestd.sessions.attest(request("ATTESTD_UNKNOWN_MEMBER_REQUEST")));
    assert.equal(err.status_code, 404);
    assert.equal(err.error_type, "member_not_found");
    assert.ok(err.request_id, "request_id is set");
    assert.ok(err.error_message, "error_message is set");
    assert.equal(typeof err.error_url, "string");
  });

  test("via attestd: session_duration_minutes 1 rejects with StytchError 400 invalid_session_duration_minutes", async () => {
    const err = await stytchError(viaAttestd.sessions.attest({ ...request("ATTESTD_DEMO_REQUEST"), session_duration_minutes: 1 }));
    assert.equal(err.status_code, 400);
    assert.equal(err.error_type, "invalid_session_duration_minutes");
    assert.ok(err.request_id, "request_id is set");
  });

  test("straight to the emulator: sessions.attest returns the same AttestResponse", () => {
    checkDemoResponse(fromEmulator);
  });

  test("attestd's response has the emulator's shape at every level, and the same Member and Organization", () => {
    assert.deepEqual(shape(fromAttestd), shape(fromEmulator));
    assert.deepEqual(fromAttestd.member, fromEmulator.member);
    assert.deepEqual(fromAttestd.organization, fromEmulator.organization);
    assert.notEqual(fromAttestd.member_session.member_session_id, fromEmulator.member_session.member_session_id, "two sessions");
  });

  test("straight to the emulator: a wrong secret rejects with StytchError 401 unauthorized_credentials", async () => {
    const wrong = new stytch.B2BClient({ project_id: PROJECT_ID, secret: "secret-test-wrong", env: baseUrl(env("ATTESTD_EMULATOR_URL")) });
    const err = await stytchError(wrong.sessions.attest(request("ATTESTD_DEMO_REQUEST")));
    assert.equal(err.status_code, 401);
    assert.equal(err.error_type, "unauthorized_credentials");
  });

  test("the session_jwt minted through attestd verifies locally against the emulator's JWKS", async () => {
    // The SDK fetches <env>/v1/b2b/sessions/jwks/<project_id> and checks iss, aud, exp/nbf and the signature.
    const ms = await viaEmulator.sessions.authenticateJwtLocal({ session_jwt: fromAttestd.session_jwt });
    assert.equal(ms.member_session_id, fromAttestd.member_session.member_session_id);
    assert.equal(ms.member_id, fromAttestd.member_id);
    assert.equal(ms.organization_id, "organization-test-demo-acme");
    assert.equal(ms.organization_slug, "acme");
    assert.equal(ms.authentication_factors[0]?.type, "trusted_auth_token");
    // The SDK re-renders expires_at with milliseconds; compare the instants.
    assert.equal(Date.parse(ms.expires_at!), Date.parse(fromAttestd.member_session.expires_at!));
  });

  test("via attestd: the session_jwt verifies locally against attestd's JWKS (GET /v1/b2b/sessions/jwks/<project>)", async () => {
    // A fresh client: its key set is fetched from attestd alone.
    const local = new stytch.B2BClient({ project_id: PROJECT_ID, secret: SECRET, env: baseUrl(env("ATTESTD_HTTP_URL")) });
    const ms = await local.sessions.authenticateJwtLocal({ session_jwt: fromAttestd.session_jwt });
    assert.equal(ms.member_session_id, fromAttestd.member_session.member_session_id);
    assert.equal(ms.member_id, fromAttestd.member_id);
    assert.equal(ms.organization_id, "organization-test-demo-acme");
    const viaJwt = await local.sessions.authenticateJwt({ session_jwt: fromAttestd.session_jwt });
    assert.equal(viaJwt.member_session.member_session_id, fromAttestd.member_session.member_session_id);
  });

  test("via attestd: a session_jwt with a forged signature does not verify against attestd's JWKS", async () => {
    const [h, p, s] = fromAttestd.session_jwt.split(".");
    const forged = `${h}.${p}.${s.slice(0, 10) + (s[10] === "A" ? "B" : "A") + s.slice(11)}`;
    await assert.rejects(viaAttestd.sessions.authenticateJwtLocal({ session_jwt: forged }), (err: unknown) => {
      assert.ok(err instanceof stytch.ClientError, `expected the SDK's ClientError, got ${String(err)}`);
      assert.equal(err.code, "jwt_invalid");
      return true;
    });
  });

  test("via attestd: getJWKS is the emulator's key set; another project is StytchError 404 project_not_found", async () => {
    const viaA = await viaAttestd.sessions.getJWKS({ project_id: PROJECT_ID });
    const viaE = await viaEmulator.sessions.getJWKS({ project_id: PROJECT_ID });
    assert.deepEqual(viaA.keys, viaE.keys);
    assert.equal(viaA.status_code, 200);
    const err = await stytchError(viaAttestd.sessions.getJWKS({ project_id: "project-test-someone-else" }));
    assert.equal(err.status_code, 404);
    assert.equal(err.error_type, "project_not_found");
  });

  test("a tampered session_jwt does not verify", async () => {
    const [h, p, s] = fromAttestd.session_jwt.split(".");
    const flipped = s.slice(0, 10) + (s[10] === "A" ? "B" : "A") + s.slice(11);
    await assert.rejects(viaEmulator.sessions.authenticateJwtLocal({ session_jwt: `${h}.${p}.${flipped}` }), (err: unknown) => {
      assert.ok(err instanceof stytch.ClientError, `expected the SDK's ClientError, got ${String(err)}`);
      assert.equal(err.code, "jwt_invalid");
      return true;
    });
  });
});
