from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from stytch.b2b.scim.v1 import scim_pb2 as _scim_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Member(_message.Message):
    __slots__ = ["created_at", "default_mfa_method", "email_address", "email_address_verified", "external_id", "is_admin", "is_breakglass", "is_locked", "lock_created_at", "lock_expires_at", "member_id", "member_password_id", "mfa_enrolled", "mfa_phone_number", "mfa_phone_number_verified", "name", "oauth_registrations", "organization_id", "retired_email_addresses", "roles", "scim_registration", "sso_registrations", "status", "totp_registration_id", "trusted_metadata", "untrusted_metadata", "updated_at"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MFA_METHOD_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ADDRESS_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    IS_BREAKGLASS_FIELD_NUMBER: _ClassVar[int]
    IS_LOCKED_FIELD_NUMBER: _ClassVar[int]
    LOCK_CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LOCK_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_PASSWORD_ID_FIELD_NUMBER: _ClassVar[int]
    MFA_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    MFA_PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MFA_PHONE_NUMBER_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OAUTH_REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    RETIRED_EMAIL_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    SCIM_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    SSO_REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOTP_REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_METADATA_FIELD_NUMBER: _ClassVar[int]
    UNTRUSTED_METADATA_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    default_mfa_method: str
    email_address: str
    email_address_verified: bool
    external_id: str
    is_admin: bool
    is_breakglass: bool
    is_locked: bool
    lock_created_at: _timestamp_pb2.Timestamp
    lock_expires_at: _timestamp_pb2.Timestamp
    member_id: str
    member_password_id: str
    mfa_enrolled: bool
    mfa_phone_number: str
    mfa_phone_number_verified: bool
    name: str
    oauth_registrations: _containers.RepeatedCompositeFieldContainer[OAuthRegistration]
    organization_id: str
    retired_email_addresses: _containers.RepeatedCompositeFieldContainer[RetiredEmail]
    roles: _containers.RepeatedCompositeFieldContainer[MemberRole]
    scim_registration: SCIMRegistration
    sso_registrations: _containers.RepeatedCompositeFieldContainer[SSORegistration]
    status: str
    totp_registration_id: str
    trusted_metadata: _struct_pb2.Struct
    untrusted_metadata: _struct_pb2.Struct
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., member_id: _Optional[str] = ..., email_address: _Optional[str] = ..., status: _Optional[str] = ..., name: _Optional[str] = ..., sso_registrations: _Optional[_Iterable[_Union[SSORegistration, _Mapping]]] = ..., is_breakglass: bool = ..., member_password_id: _Optional[str] = ..., oauth_registrations: _Optional[_Iterable[_Union[OAuthRegistration, _Mapping]]] = ..., email_address_verified: bool = ..., mfa_phone_number_verified: bool = ..., is_admin: bool = ..., totp_registration_id: _Optional[str] = ..., retired_email_addresses: _Optional[_Iterable[_Union[RetiredEmail, _Mapping]]] = ..., is_locked: bool = ..., mfa_enrolled: bool = ..., mfa_phone_number: _Optional[str] = ..., default_mfa_method: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[MemberRole, _Mapping]]] = ..., trusted_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., untrusted_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., scim_registration: _Optional[_Union[SCIMRegistration, _Mapping]] = ..., external_id: _Optional[str] = ..., lock_created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., lock_expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemberRole(_message.Message):
    __slots__ = ["role_id", "sources"]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    role_id: str
    sources: _containers.RepeatedCompositeFieldContainer[MemberRoleSource]
    def __init__(self, role_id: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[MemberRoleSource, _Mapping]]] = ...) -> None: ...

class MemberRoleSource(_message.Message):
    __slots__ = ["details", "type"]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    details: _struct_pb2.Struct
    type: str
    def __init__(self, type: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class OAuthRegistration(_message.Message):
    __slots__ = ["locale", "member_oauth_registration_id", "profile_picture_url", "provider_subject", "provider_type"]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_OAUTH_REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_PICTURE_URL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    locale: str
    member_oauth_registration_id: str
    profile_picture_url: str
    provider_subject: str
    provider_type: str
    def __init__(self, provider_type: _Optional[str] = ..., provider_subject: _Optional[str] = ..., member_oauth_registration_id: _Optional[str] = ..., profile_picture_url: _Optional[str] = ..., locale: _Optional[str] = ...) -> None: ...

class RetiredEmail(_message.Message):
    __slots__ = ["email_address", "email_id"]
    EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    email_address: str
    email_id: str
    def __init__(self, email_id: _Optional[str] = ..., email_address: _Optional[str] = ...) -> None: ...

class SCIMRegistration(_message.Message):
    __slots__ = ["connection_id", "external_id", "registration_id", "scim_attributes"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCIM_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    external_id: str
    registration_id: str
    scim_attributes: _scim_pb2.SCIMAttributes
    def __init__(self, connection_id: _Optional[str] = ..., registration_id: _Optional[str] = ..., external_id: _Optional[str] = ..., scim_attributes: _Optional[_Union[_scim_pb2.SCIMAttributes, _Mapping]] = ...) -> None: ...

class SSORegistration(_message.Message):
    __slots__ = ["connection_id", "external_id", "registration_id", "sso_attributes"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    SSO_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    external_id: str
    registration_id: str
    sso_attributes: _struct_pb2.Struct
    def __init__(self, connection_id: _Optional[str] = ..., external_id: _Optional[str] = ..., registration_id: _Optional[str] = ..., sso_attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
