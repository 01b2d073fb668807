from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protoc_gen_openapiv2.options import annotations_pb2 as _annotations_pb2_1
from stytch.device_history.v1 import device_info_pb2 as _device_info_pb2
from stytch.organization.v1 import member_pb2 as _member_pb2
from stytch.organization.v1 import organization_pb2 as _organization_pb2
from stytch.session.v1 import authentication_factor_pb2 as _authentication_factor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AttestRequest(_message.Message):
    __slots__ = ["organization_id", "profile_id", "session_custom_claims", "session_duration_minutes", "session_jwt", "session_token", "telemetry_id", "token"]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_CUSTOM_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    SESSION_DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SESSION_JWT_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    profile_id: str
    session_custom_claims: _struct_pb2.Struct
    session_duration_minutes: int
    session_jwt: str
    session_token: str
    telemetry_id: str
    token: str
    def __init__(self, profile_id: _Optional[str] = ..., token: _Optional[str] = ..., organization_id: _Optional[str] = ..., session_duration_minutes: _Optional[int] = ..., session_custom_claims: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., session_token: _Optional[str] = ..., session_jwt: _Optional[str] = ..., telemetry_id: _Optional[str] = ...) -> None: ...

class AttestResponse(_message.Message):
    __slots__ = ["member", "member_device", "member_id", "member_session", "organization", "request_id", "session_jwt", "session_token", "status_code"]
    MEMBER_DEVICE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_SESSION_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_JWT_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    member: _member_pb2.Member
    member_device: _device_info_pb2.DeviceInfo
    member_id: str
    member_session: MemberSession
    organization: _organization_pb2.Organization
    request_id: str
    session_jwt: str
    session_token: str
    status_code: int
    def __init__(self, request_id: _Optional[str] = ..., member_id: _Optional[str] = ..., member_session: _Optional[_Union[MemberSession, _Mapping]] = ..., session_token: _Optional[str] = ..., session_jwt: _Optional[str] = ..., member: _Optional[_Union[_member_pb2.Member, _Mapping]] = ..., organization: _Optional[_Union[_organization_pb2.Organization, _Mapping]] = ..., status_code: _Optional[int] = ..., member_device: _Optional[_Union[_device_info_pb2.DeviceInfo, _Mapping]] = ...) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ["project_id"]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ["keys", "request_id", "status_code"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Jwk]
    request_id: str
    status_code: int
    def __init__(self, keys: _Optional[_Iterable[_Union[Jwk, _Mapping]]] = ..., request_id: _Optional[str] = ..., status_code: _Optional[int] = ...) -> None: ...

class Jwk(_message.Message):
    __slots__ = ["alg", "e", "key_ops", "kid", "kty", "n", "use", "x5c"]
    ALG_FIELD_NUMBER: _ClassVar[int]
    E_FIELD_NUMBER: _ClassVar[int]
    KEY_OPS_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    KTY_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    X5C_FIELD_NUMBER: _ClassVar[int]
    alg: str
    e: str
    key_ops: _containers.RepeatedScalarFieldContainer[str]
    kid: str
    kty: str
    n: str
    use: str
    x5c: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kty: _Optional[str] = ..., use: _Optional[str] = ..., key_ops: _Optional[_Iterable[str]] = ..., alg: _Optional[str] = ..., kid: _Optional[str] = ..., x5c: _Optional[_Iterable[str]] = ..., n: _Optional[str] = ..., e: _Optional[str] = ...) -> None: ...

class MemberSession(_message.Message):
    __slots__ = ["authentication_factors", "custom_claims", "expires_at", "last_accessed_at", "member_id", "member_session_id", "organization_id", "organization_slug", "roles", "started_at"]
    AUTHENTICATION_FACTORS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_SLUG_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    authentication_factors: _containers.RepeatedCompositeFieldContainer[_authentication_factor_pb2.AuthenticationFactor]
    custom_claims: _struct_pb2.Struct
    expires_at: _timestamp_pb2.Timestamp
    last_accessed_at: _timestamp_pb2.Timestamp
    member_id: str
    member_session_id: str
    organization_id: str
    organization_slug: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, member_session_id: _Optional[str] = ..., member_id: _Optional[str] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_accessed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., authentication_factors: _Optional[_Iterable[_Union[_authentication_factor_pb2.AuthenticationFactor, _Mapping]]] = ..., organization_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., organization_slug: _Optional[str] = ..., custom_claims: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
