"""Tests of attestd_client against a running attestd in emulator mode.

Run by clients/python_test.go (TestPythonClient), which starts attestd and sets:

    ATTESTD_GRPC_ADDR               attestd's gRPC host:port
    ATTESTD_DEMO_REQUEST            a valid demo Attest request (JSON) for alice@acme.example
    ATTESTD_SECOND_DEMO_REQUEST     another one, with a different token (token_id)
    ATTESTD_UNKNOWN_MEMBER_REQUEST  a demo request for nobody@acme.example
    ATTESTD_BAD_TOKEN_REQUEST       the demo request with its JWT signature corrupted

By hand: /usr/bin/python3 clients/python/test_attestd_client.py -v
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import unittest
from typing import Any, Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from attestd_client import AttestdClient, AttestError, AttestRequest, AttestResponse  # noqa: E402

#: Deadline of every RPC in these tests, in seconds.
DEADLINE = 10.0

ORG_ID = "organization-test-demo-acme"
PROFILE_ID = "trusted-token-profile-test-demo"


def env_request(name: str) -> Dict[str, Any]:
    """The JSON Attest request in environment variable name."""
    raw = os.environ.get(name)
    if not raw:
        raise RuntimeError(f"{name} is not set (run via `go test ./clients/ -run TestPythonClient`)")
    return json.loads(raw)


class AttestdClientTest(unittest.TestCase):
    client: AttestdClient

    @classmethod
    def setUpClass(cls) -> None:
        addr = os.environ.get("ATTESTD_GRPC_ADDR")
        if not addr:
            raise RuntimeError("ATTESTD_GRPC_ADDR is not set (run via `go test ./clients/ -run TestPythonClient`)")
        cls.client = AttestdClient(addr, timeout=DEADLINE)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def attest_error(self, request: Any) -> AttestError:
        """Attests request, which must fail, and returns the error."""
        with self.assertRaises(AttestError) as cm:
            self.client.attest(request, timeout=DEADLINE)
        err = cm.exception
        self.assertIsNotNone(err.stytch_error, f"no StytchError in the status details: {err!r}")
        self.assertIsNotNone(err.error_info, "no google.rpc.ErrorInfo in the status details")
        self.assertEqual(err.error_info.reason, err.stytch_error.error_type)
        self.assertTrue(err.stytch_error.request_id, "StytchError.request_id is empty")
        self.assertTrue(err.stytch_error.error_message, "StytchError.error_message is empty")
        return err

    def test_attest_success(self) -> None:
        req = env_request("ATTESTD_DEMO_REQUEST")
        resp = self.client.attest(req, timeout=DEADLINE)
        self.assertIsInstance(resp, AttestResponse)

        self.assertEqual(resp.status_code, 200)
        self.assertTrue(resp.request_id)
        self.assertEqual(resp.member.email_address, "alice@acme.example")
        self.assertEqual(resp.member.member_id, resp.member_id)
        self.assertEqual(resp.organization.organization_id, ORG_ID)
        self.assertEqual(resp.organization.organization_name, "Acme Corp")
        self.assertEqual(resp.organization.organization_slug, "acme")

        session = resp.member_session
        self.assertTrue(session.member_session_id)
        self.assertEqual(session.member_id, resp.member_id)
        self.assertEqual(session.organization_id, ORG_ID)
        self.assertEqual(session.organization_slug, "acme")
        self.assertEqual(len(session.authentication_factors), 1, session.authentication_factors)
        factor = session.authentication_factors[0]
        self.assertEqual(factor.type, "trusted_auth_token")
        self.assertEqual(factor.delivery_method, "trusted_token_exchange")
        self.assertTrue(factor.HasField("trusted_auth_token_factor"))
        self.assertTrue(factor.trusted_auth_token_factor.token_id)

        for field in ("started_at", "last_accessed_at", "expires_at"):
            self.assertTrue(session.HasField(field), f"member_session.{field} is unset")
        started = session.started_at.ToDatetime()
        expires = session.expires_at.ToDatetime()
        self.assertEqual(expires - started, datetime.timedelta(minutes=60))

        self.assertEqual(len(resp.session_token), 44, resp.session_token)
        self.assertEqual(len(resp.session_jwt.split(".")), 3)

    def test_attest_request_message(self) -> None:
        """attest accepts an AttestRequest message as well as a dict."""
        req = env_request("ATTESTD_DEMO_REQUEST")
        msg = AttestRequest(profile_id=req["profile_id"], token=req["token"], session_duration_minutes=30)
        if "organization_id" in req:
            msg.organization_id = req["organization_id"]
        resp = self.client.attest(msg, timeout=DEADLINE, request_id="python-client-test")
        self.assertEqual(resp.member.email_address, "alice@acme.example")
        session = resp.member_session
        self.assertEqual(
            session.expires_at.ToDatetime() - session.started_at.ToDatetime(), datetime.timedelta(minutes=30)
        )

    def test_attest_extends_session(self) -> None:
        first = self.client.attest(env_request("ATTESTD_DEMO_REQUEST"), timeout=DEADLINE)
        second_req = env_request("ATTESTD_SECOND_DEMO_REQUEST")
        second_req["session_token"] = first.session_token
        second = self.client.attest(second_req, timeout=DEADLINE)

        self.assertEqual(second.member_session.member_session_id, first.member_session.member_session_id)
        self.assertEqual(second.member_id, first.member_id)
        factors = second.member_session.authentication_factors
        self.assertEqual(len(factors), 2, factors)
        token_ids = {f.trusted_auth_token_factor.token_id for f in factors}
        self.assertEqual(len(token_ids), 2, f"factors should carry two token IDs: {token_ids}")
        for f in factors:
            self.assertEqual(f.type, "trusted_auth_token")

    def test_unknown_member(self) -> None:
        err = self.attest_error(env_request("ATTESTD_UNKNOWN_MEMBER_REQUEST"))
        self.assertEqual(err.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(err.stytch_error.error_type, "member_not_found")
        self.assertEqual(err.stytch_error.status_code, 404)
        self.assertEqual(err.error_type, "member_not_found")
        self.assertEqual(err.status_code, 404)
        self.assertEqual(err.error_info.domain, "stytch.com")

    def test_bad_token(self) -> None:
        err = self.attest_error(env_request("ATTESTD_BAD_TOKEN_REQUEST"))
        self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(err.stytch_error.error_type, "invalid_trusted_auth_token")
        self.assertEqual(err.stytch_error.status_code, 400)
        self.assertIn("/400#invalid_trusted_auth_token", err.stytch_error.error_url)

    def test_invalid_session_duration(self) -> None:
        req = env_request("ATTESTD_DEMO_REQUEST")
        req["session_duration_minutes"] = 1
        err = self.attest_error(req)
        self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(err.stytch_error.error_type, "invalid_session_duration_minutes")
        self.assertEqual(err.stytch_error.status_code, 400)
        # attestd validated it itself, before anything reached Stytch.
        self.assertEqual(err.error_info.domain, "attestd")

    def test_request_id_is_echoed(self) -> None:
        """attestd's own errors take the caller's x-request-id as their request_id."""
        req = env_request("ATTESTD_DEMO_REQUEST")
        req["session_duration_minutes"] = 1
        with self.assertRaises(AttestError) as cm:
            self.client.attest(req, timeout=DEADLINE, request_id="python-client-test-rid")
        self.assertEqual(cm.exception.request_id, "python-client-test-rid")

    def test_unknown_field_rejected_locally(self) -> None:
        from google.protobuf import json_format

        with self.assertRaises(json_format.ParseError):
            self.client.attest({"profile_id": PROFILE_ID, "token": "x", "sesion_token": "typo"}, timeout=DEADLINE)


if __name__ == "__main__":
    unittest.main()
