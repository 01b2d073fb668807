/**
 * Stytch's official Node SDK against attestd with caller authentication on
 * (ATTESTD_AUTH_TOKENS_FILE): the SDK sends its project_id and secret as
 * HTTP Basic credentials, so it is configured with the caller's name and
 * token, and attestd checks them as it checks a bearer token.
 *
 * Run by clients/node_test.go (TestStytchNodeSDKCallerAuth) after
 * `npm run clients:build`:
 *
 *   ATTESTD_HTTP_URL=http://127.0.0.1:8080 ATTESTD_CALLER=svc-node ATTESTD_CALLER_TOKEN=tok-… \
 *   ATTESTD_DEMO_REQUEST="$(attestd demo-token --request)" \
 *   node --test clients/node/dist/clients/node/stytch_sdk_auth.test.js
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as stytch from "stytch";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (clients/node_test.go sets it)`);
  return v;
}

/** An SDK client on attestd (plain HTTP is given as `env`, as the SDK wants https in custom_base_url). */
function client(projectId: string, secret: string): stytch.B2BClient {
  const url = env("ATTESTD_HTTP_URL");
  return new stytch.B2BClient({ project_id: projectId, secret, env: url.endsWith("/") ? url : url + "/" });
}

function request(): stytch.B2BSessionsAttestRequest {
  return JSON.parse(env("ATTESTD_DEMO_REQUEST")) as stytch.B2BSessionsAttestRequest;
}

async function unauthorized(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof stytch.StytchError, `expected the SDK's StytchError, got ${String(err)}`);
    assert.equal(err.status_code, 401);
    assert.equal(err.error_type, "unauthorized_credentials");
    return;
  }
  assert.fail("the call succeeded without valid caller credentials");
}

describe("Stytch Node SDK → attestd with caller authentication", () => {
  test("project_id = the caller's name, secret = its token: sessions.attest succeeds", async () => {
    const resp = await client(env("ATTESTD_CALLER"), env("ATTESTD_CALLER_TOKEN")).sessions.attest(request());
    assert.equal(resp.status_code, 200);
    assert.equal(resp.session_token.length, 44);
  });

  test("a wrong secret is StytchError 401 unauthorized_credentials", async () => {
    await unauthorized(client(env("ATTESTD_CALLER"), "tok-wrong-0123456789abcdef").sessions.attest(request()));
  });

  test("the right token under another caller's name is refused the same way", async () => {
    await unauthorized(client("svc-other", env("ATTESTD_CALLER_TOKEN")).sessions.attest(request()));
  });

  test("a Stytch project id and secret (the SDK's usual values) are refused", async () => {
    await unauthorized(client("project-test-attestd-demo", "secret-test-attestd-demo-not-a-secret").sessions.attest(request()));
  });
});
