/**
 * attestd over gRPC from Node: the committed TypeScript stubs (gen/ts) and
 * attestd_client.ts against a running attestd in emulator mode.
 *
 * Run by clients/node_test.go (TestNodeGRPCClient) after `npm run clients:build`:
 *
 *   ATTESTD_GRPC_URL=http://127.0.0.1:50051 \
 *   ATTESTD_DEMO_REQUEST="$(attestd demo-token --request)" \
 *   ATTESTD_UNKNOWN_MEMBER_REQUEST="$(attestd demo-token --email nobody@acme.example --request)" \
 *   ATTESTD_BAD_TOKEN_REQUEST='{"profile_id":"trusted-token-profile-test-demo","token":"<tampered JWT>"}' \
 *   node --test clients/node/dist/clients/node/grpc_client.test.js
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { timestampMs } from "@bufbuild/protobuf/wkt";

import {
  AttestdError,
  Code,
  attestRequestFromJson,
  createAttestdClient,
  type AttestRequestInit,
} from "./attestd_client.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (clients/node_test.go sets it)`);
  return v;
}

const attestd = createAttestdClient(env("ATTESTD_GRPC_URL"));
after(() => attestd.close());

/** Calls attest expecting failure, and returns the AttestdError. */
async function attestError(req: AttestRequestInit): Promise<AttestdError> {
  try {
    const resp = await attestd.attest(req);
    assert.fail(`attest succeeded, expected an error: ${resp.memberId}`);
  } catch (err) {
    assert.ok(err instanceof AttestdError, `expected an AttestdError, got ${String(err)}`);
    return err;
  }
}

describe("attestd gRPC SessionService/Attest (TypeScript stubs)", () => {
  test("demo request: Alice's new member session", async () => {
    const resp = await attestd.attest(attestRequestFromJson(env("ATTESTD_DEMO_REQUEST")));

    assert.equal(resp.statusCode, 200);
    assert.ok(resp.requestId, "request_id is set");
    assert.match(resp.memberId, /^member-/);
    assert.equal(resp.member?.emailAddress, "alice@acme.example");
    assert.equal(resp.member?.memberId, resp.memberId);
    assert.equal(resp.organization?.organizationName, "Acme Corp");
    assert.equal(resp.organization?.organizationSlug, "acme");
    assert.equal(resp.organization?.organizationId, "organization-test-demo-acme");

    const ms = resp.memberSession;
    assert.ok(ms, "member_session is set");
    assert.equal(ms.memberId, resp.memberId);
    assert.equal(ms.organizationId, "organization-test-demo-acme");
    assert.equal(ms.organizationSlug, "acme");
    assert.ok(ms.memberSessionId, "member_session_id is set");

    assert.equal(ms.authenticationFactors.length, 1);
    const f = ms.authenticationFactors[0];
    assert.equal(f.type, "trusted_auth_token");
    assert.equal(f.deliveryMethod, "trusted_token_exchange");
    assert.ok(f.trustedAuthTokenFactor?.tokenId, "trusted_auth_token_factor.token_id is set");

    assert.ok(ms.startedAt && ms.expiresAt, "started_at and expires_at are set");
    assert.equal(timestampMs(ms.expiresAt) - timestampMs(ms.startedAt), 60 * 60 * 1000, "default session lasts 60 minutes");

    assert.equal(resp.sessionToken.length, 44);
    assert.equal(resp.sessionJwt.split(".").length, 3, "session_jwt is a JWS");
  });

  test("unknown member: NotFound with Stytch's member_not_found", async () => {
    const err = await attestError(attestRequestFromJson(env("ATTESTD_UNKNOWN_MEMBER_REQUEST")));
    assert.equal(err.code, Code.NotFound, err.message);
    assert.ok(err.stytchError, "StytchError in the status details");
    assert.equal(err.stytchError.errorType, "member_not_found");
    assert.equal(err.stytchError.statusCode, 404);
    assert.ok(err.stytchError.requestId, "request_id is set");
    assert.ok(err.stytchError.errorMessage, "error_message is set");
    assert.equal(err.errorInfo?.reason, "member_not_found");
    assert.equal(err.errorInfo?.domain, "stytch.com");
    assert.ok(err.requestId, "x-request-id metadata or request_id");
  });

  test("tampered token: InvalidArgument with Stytch's invalid_trusted_auth_token", async () => {
    const err = await attestError(attestRequestFromJson(env("ATTESTD_BAD_TOKEN_REQUEST")));
    assert.equal(err.code, Code.InvalidArgument, err.message);
    assert.ok(err.stytchError, "StytchError in the status details");
    assert.equal(err.stytchError.errorType, "invalid_trusted_auth_token");
    assert.equal(err.stytchError.statusCode, 400);
    assert.equal(err.errorInfo?.reason, "invalid_trusted_auth_token");
    assert.equal(err.retryDelayMs, undefined, "not retryable");
  });

  test("validation before Stytch: InvalidArgument with attestd's invalid_session_duration_minutes", async () => {
    const req = attestRequestFromJson(env("ATTESTD_DEMO_REQUEST"));
    req.sessionDurationMinutes = 1;
    const err = await attestError(req);
    assert.equal(err.code, Code.InvalidArgument, err.message);
    assert.equal(err.stytchError?.errorType, "invalid_session_duration_minutes");
    assert.equal(err.stytchError?.statusCode, 400);
    assert.equal(err.errorInfo?.domain, "attestd");
  });
});
