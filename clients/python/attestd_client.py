"""A small gRPC client for attestd's ``stytch.b2b.session.v1.SessionService``.

attestd exchanges a token issued by a trusted identity provider for a Stytch
B2B member session. This module wraps the generated stubs committed in
``gen/python`` (``make gen``) so that a caller only deals with request and
response messages, and with one exception type carrying Stytch's error.

Example::

    from attestd_client import AttestdClient, AttestError

    with AttestdClient("127.0.0.1:50051") as client:
        try:
            resp = client.attest({"profile_id": "trusted-token-profile-test-demo",
                                  "token": "eyJ..."})
            print(resp.member.email_address, resp.session_token)
        except AttestError as err:
            print(err.code, err.error_type, err.status_code, err.request_id)

Only ``grpcio`` and ``protobuf`` are needed (Debian: ``python3-grpcio`` and
``python3-protobuf``). The module finds the generated stubs relative to its
own location, so it works from any working directory.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

# The generated stubs import each other as top-level packages (``stytch.…``,
# ``google.rpc.…``, ``buf.validate.…``), so gen/python must be on sys.path.
# It goes first so that an unrelated installed ``stytch`` package cannot
# shadow the stubs; ``google`` is a namespace package, so google.protobuf
# from the installed protobuf still resolves.
_GEN_PYTHON = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gen", "python")
)
if _GEN_PYTHON not in sys.path:
    sys.path.insert(0, _GEN_PYTHON)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from stytch.b2b.session.v1 import session_pb2, session_pb2_grpc  # noqa: E402
from stytch.error.v1 import error_pb2  # noqa: E402

AttestRequest = session_pb2.AttestRequest
AttestResponse = session_pb2.AttestResponse
StytchError = error_pb2.StytchError
ErrorInfo = error_details_pb2.ErrorInfo
RetryInfo = error_details_pb2.RetryInfo

__all__ = [
    "AttestdClient",
    "AttestError",
    "AttestRequest",
    "AttestResponse",
    "StytchError",
    "ErrorInfo",
    "RetryInfo",
    "GEN_PYTHON",
]

#: Directory of the generated Python stubs that this module put on sys.path.
GEN_PYTHON = _GEN_PYTHON

#: Trailing-metadata key under which gRPC carries the serialized google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"

#: Metadata key of the call's request ID (sent by the caller, echoed by attestd).
REQUEST_ID_KEY = "x-request-id"

Metadata = Sequence[Tuple[str, Union[str, bytes]]]


class AttestError(Exception):
    """A failed Attest call.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``).
        stytch_error: Stytch's error object (``stytch.error.v1.StytchError``)
            decoded from the status details, or None when the failure did not
            come from attestd (e.g. attestd unreachable, or the client-side
            deadline expired).
        message: the gRPC status message.
        error_info: the ``google.rpc.ErrorInfo`` detail when present; its
            ``reason`` is the error_type and its ``domain`` says who decided
            (``stytch.com`` or ``attestd``).
        retry_info: the ``google.rpc.RetryInfo`` detail when present (errors a
            caller may retry, e.g. ``too_many_requests``).
        initial_metadata: the call's initial (header) metadata, as received.
        trailing_metadata: the call's trailing metadata, as received.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        stytch_error: Optional[StytchError],
        *,
        message: str = "",
        error_info: Optional[ErrorInfo] = None,
        retry_info: Optional[RetryInfo] = None,
        initial_metadata: Metadata = (),
        trailing_metadata: Metadata = (),
    ) -> None:
        self.code = code
        self.stytch_error = stytch_error
        self.message = message
        self.error_info = error_info
        self.retry_info = retry_info
        self.initial_metadata = tuple(initial_metadata)
        self.trailing_metadata = tuple(trailing_metadata)
        summary = f"attest failed: {code.name}"
        if stytch_error is not None:
            summary += f" {stytch_error.status_code} {stytch_error.error_type}: {stytch_error.error_message}"
        elif message:
            summary += f": {message}"
        super().__init__(summary)

    @property
    def error_type(self) -> str:
        """Stytch's machine-readable error type (e.g. ``member_not_found``), or ""."""
        return self.stytch_error.error_type if self.stytch_error is not None else ""

    @property
    def status_code(self) -> int:
        """The HTTP status Stytch (or attestd) gave the failure, or 0 when unknown."""
        return self.stytch_error.status_code if self.stytch_error is not None else 0

    @property
    def request_id(self) -> str:
        """The call's request ID: Stytch's ``request_id``, else attestd's ``x-request-id``."""
        if self.stytch_error is not None and self.stytch_error.request_id:
            return self.stytch_error.request_id
        for md in (self.trailing_metadata, self.initial_metadata):
            value = _metadata_value(md, REQUEST_ID_KEY)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def retry_delay(self) -> Optional[float]:
        """Seconds to wait before retrying, from RetryInfo; None when not retryable."""
        if self.retry_info is None or not self.retry_info.HasField("retry_delay"):
            return None
        return self.retry_info.retry_delay.ToTimedelta().total_seconds()

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "AttestError":
        """Builds an AttestError from a failed call, decoding its status details.

        The details travel as a serialized ``google.rpc.Status`` in the
        ``grpc-status-details-bin`` trailer; its ``details`` are ``Any``
        messages, of which StytchError, ErrorInfo and RetryInfo are unpacked.
        """
        code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
        message = err.details() if callable(getattr(err, "details", None)) else str(err)
        headers: Metadata = ()
        trailers: Metadata = ()
        if callable(getattr(err, "initial_metadata", None)):
            headers = err.initial_metadata() or ()
        if callable(getattr(err, "trailing_metadata", None)):
            trailers = err.trailing_metadata() or ()
        stytch_error = error_info = retry_info = None
        raw = _metadata_value(trailers, STATUS_DETAILS_KEY)
        if isinstance(raw, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(raw)
            except Exception:  # a malformed trailer must not hide the gRPC error
                status = status_pb2.Status()
            for detail in status.details:
                if stytch_error is None and detail.Is(StytchError.DESCRIPTOR):
                    stytch_error = StytchError()
                    detail.Unpack(stytch_error)
                elif error_info is None and detail.Is(ErrorInfo.DESCRIPTOR):
                    error_info = ErrorInfo()
                    detail.Unpack(error_info)
                elif retry_info is None and detail.Is(RetryInfo.DESCRIPTOR):
                    retry_info = RetryInfo()
                    detail.Unpack(retry_info)
        return cls(
            code,
            stytch_error,
            message=message or "",
            error_info=error_info,
            retry_info=retry_info,
            initial_metadata=headers,
            trailing_metadata=trailers,
        )


class AttestdClient:
    """A client of attestd's Attest method over one gRPC channel.

    Args:
        target: attestd's gRPC address, ``host:port``.
        credentials: channel credentials (e.g. ``grpc.ssl_channel_credentials()``)
            for a TLS listener; None for a plaintext channel.
        timeout: default deadline of each call, in seconds.

    The client owns its channel: use it as a context manager or call close().
    It is safe to share between threads.
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: Optional[grpc.ChannelCredentials] = None,
        timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.timeout = timeout
        if credentials is None:
            self._channel = grpc.insecure_channel(target)
        else:
            self._channel = grpc.secure_channel(target, credentials)
        self._stub = session_pb2_grpc.SessionServiceStub(self._channel)

    def attest(
        self,
        request: Union[AttestRequest, Mapping[str, Any]],
        *,
        timeout: Optional[float] = None,
        metadata: Optional[Metadata] = None,
        request_id: Optional[str] = None,
    ) -> AttestResponse:
        """Exchanges a trusted identity provider's token for a member session.

        Args:
            request: an AttestRequest, or a dict in Stytch's JSON shape
                (``{"profile_id": …, "token": …, "organization_id": …}``);
                unknown keys raise ``google.protobuf.json_format.ParseError``.
            timeout: this call's deadline in seconds (default: the client's).
            metadata: extra gRPC metadata, e.g. ``("authorization", "Bearer …")``
                when attestd requires bearer tokens.
            request_id: sent as ``x-request-id``; attestd uses it as the call's
                request ID when Stytch does not answer with its own.

        Returns:
            The AttestResponse: member_session, session_token, session_jwt,
            member and organization, as Stytch returns them.

        Raises:
            AttestError: the call failed; ``stytch_error`` holds Stytch's error.
        """
        if not isinstance(request, AttestRequest):
            request = json_format.ParseDict(dict(request), AttestRequest())
        md = list(metadata or ())
        if request_id:
            md.append((REQUEST_ID_KEY, request_id))
        try:
            return self._stub.Attest(
                request,
                timeout=self.timeout if timeout is None else timeout,
                metadata=md or None,
            )
        except grpc.RpcError as err:
            raise AttestError.from_rpc_error(err) from err

    def close(self) -> None:
        """Closes the channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> "AttestdClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _metadata_value(metadata: Metadata, key: str) -> Optional[Union[str, bytes]]:
    """The first value of key in gRPC metadata, or None."""
    for k, v in metadata or ():
        if k.lower() == key:
            return v
    return None
