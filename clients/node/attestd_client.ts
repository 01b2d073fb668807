/**
 * A small gRPC client for attestd, built on the committed TypeScript stubs
 * (gen/ts, protobuf-es v2) and Connect for Node (@connectrpc/connect-node).
 *
 *   import { createAttestdClient, AttestdError } from "./attestd_client.js";
 *
 *   const attestd = createAttestdClient("http://127.0.0.1:50051");
 *   try {
 *     const resp = await attestd.attest({ profileId: "trusted-token-profile-…", token: "eyJ…" });
 *     console.log(resp.memberSession?.memberSessionId, resp.sessionToken);
 *   } catch (err) {
 *     if (err instanceof AttestdError) console.log(err.code, err.stytchError?.errorType);
 *     else throw err;
 *   } finally {
 *     attestd.close();
 *   }
 *
 * Field names are protobuf-es's lowerCamelCase (memberSession, emailAddress,
 * statusCode); the JSON/REST wire format keeps Stytch's snake_case.
 *
 * Every failed call is an AttestdError carrying the gRPC code and Stytch's
 * error object (stytch.error.v1.StytchError) decoded from the status
 * details, plus google.rpc.ErrorInfo (reason = error_type, domain =
 * "stytch.com" or "attestd") and google.rpc.RetryInfo when attestd sent them.
 */
import { fromJson, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

import {
  ErrorInfoSchema,
  RetryInfoSchema,
  type ErrorInfo,
  type RetryInfo,
} from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  AttestRequestSchema,
  SessionService,
  type AttestRequest,
  type AttestResponse,
} from "../../gen/ts/stytch/b2b/session/v1/session_pb.js";
import { StytchErrorSchema, type StytchError } from "../../gen/ts/stytch/error/v1/error_pb.js";

export { Code } from "@connectrpc/connect";
export type { AttestRequest, AttestResponse } from "../../gen/ts/stytch/b2b/session/v1/session_pb.js";
export type { StytchError } from "../../gen/ts/stytch/error/v1/error_pb.js";

/** What attest() accepts: a plain object with AttestRequest's fields, or an AttestRequest. */
export type AttestRequestInit = MessageInitShape<typeof AttestRequestSchema>;

/**
 * A failed Attest call. `code` is the gRPC status code; `stytchError` is
 * Stytch's error object (status_code, request_id, error_type, error_message,
 * error_url, error_details) exactly as the REST API would have returned it.
 */
export class AttestdError extends Error {
  /** The gRPC status code, e.g. Code.NotFound for member_not_found. */
  readonly code: Code;
  /** Stytch's error object from the status details; absent only if the failure never reached attestd's error mapping (e.g. a network error). */
  readonly stytchError?: StytchError;
  /** google.rpc.ErrorInfo: reason is the error_type, domain says who decided ("stytch.com" or "attestd"). */
  readonly errorInfo?: ErrorInfo;
  /** google.rpc.RetryInfo on errors worth retrying (rate limited, overloaded, circuit open). */
  readonly retryInfo?: RetryInfo;
  /** The call's request ID: the x-request-id response metadata, else the Stytch error's request_id. */
  readonly requestId?: string;
  /** The underlying ConnectError. */
  override readonly cause: ConnectError;

  constructor(cause: ConnectError) {
    const stytchError = cause.findDetails(StytchErrorSchema)[0];
    super(
      stytchError
        ? `attestd: ${Code[cause.code]}: ${stytchError.errorType} (${stytchError.statusCode}): ${stytchError.errorMessage}`
        : `attestd: ${cause.message}`,
    );
    this.name = "AttestdError";
    this.cause = cause;
    this.code = cause.code;
    this.stytchError = stytchError;
    this.errorInfo = cause.findDetails(ErrorInfoSchema)[0];
    this.retryInfo = cause.findDetails(RetryInfoSchema)[0];
    this.requestId = cause.metadata.get("x-request-id") ?? stytchError?.requestId;
  }

  /** The delay RetryInfo asks for, in milliseconds; undefined when the error carries none. */
  get retryDelayMs(): number | undefined {
    const d = this.retryInfo?.retryDelay;
    return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : undefined;
  }
}

export interface AttestdClient {
  /**
   * Calls stytch.b2b.session.v1.SessionService/Attest. Resolves with the
   * AttestResponse; rejects with an AttestdError on any gRPC failure.
   */
  attest(req: AttestRequestInit, options?: CallOptions): Promise<AttestResponse>;
  /** The generated Connect client, for callers who want raw ConnectErrors. */
  readonly raw: Client<typeof SessionService>;
  /** Closes the HTTP/2 connection. The client is unusable afterwards. */
  close(): void;
}

/**
 * Creates a gRPC client for attestd at baseUrl: "http://host:port" for
 * plaintext (HTTP/2 prior knowledge), "https://host:port" for TLS.
 */
export function createAttestdClient(baseUrl: string): AttestdClient {
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  const raw = createClient(SessionService, transport);
  return {
    raw,
    async attest(req, options) {
      try {
        return await raw.attest(req, options);
      } catch (err) {
        throw err instanceof ConnectError ? new AttestdError(err) : err;
      }
    },
    close() {
      sessionManager.abort();
    },
  };
}

/**
 * Parses an Attest request in Stytch's JSON wire format (snake_case, as
 * printed by `attestd demo-token --request`) into an AttestRequest.
 */
export function attestRequestFromJson(json: string | JsonValue): AttestRequest {
  return fromJson(AttestRequestSchema, typeof json === "string" ? (JSON.parse(json) as JsonValue) : json);
}
