from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActiveSCIMConnection(_message.Message):
    __slots__ = ["bearer_token_expires_at", "bearer_token_last_four", "connection_id", "display_name"]
    BEARER_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    BEARER_TOKEN_LAST_FOUR_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    bearer_token_expires_at: _timestamp_pb2.Timestamp
    bearer_token_last_four: str
    connection_id: str
    display_name: str
    def __init__(self, connection_id: _Optional[str] = ..., display_name: _Optional[str] = ..., bearer_token_last_four: _Optional[str] = ..., bearer_token_expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ActiveSSOConnection(_message.Message):
    __slots__ = ["connection_id", "display_name", "identity_provider"]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    display_name: str
    identity_provider: str
    def __init__(self, connection_id: _Optional[str] = ..., display_name: _Optional[str] = ..., identity_provider: _Optional[str] = ...) -> None: ...

class CustomRole(_message.Message):
    __slots__ = ["description", "permissions", "role_id"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    description: str
    permissions: _containers.RepeatedCompositeFieldContainer[CustomRolePermission]
    role_id: str
    def __init__(self, role_id: _Optional[str] = ..., description: _Optional[str] = ..., permissions: _Optional[_Iterable[_Union[CustomRolePermission, _Mapping]]] = ...) -> None: ...

class CustomRolePermission(_message.Message):
    __slots__ = ["actions", "resource_id"]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedScalarFieldContainer[str]
    resource_id: str
    def __init__(self, resource_id: _Optional[str] = ..., actions: _Optional[_Iterable[str]] = ...) -> None: ...

class EmailImplicitRoleAssignment(_message.Message):
    __slots__ = ["domain", "role_id"]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    role_id: str
    def __init__(self, domain: _Optional[str] = ..., role_id: _Optional[str] = ...) -> None: ...

class Organization(_message.Message):
    __slots__ = ["allowed_auth_methods", "allowed_first_party_connected_apps", "allowed_mfa_methods", "allowed_oauth_tenants", "allowed_third_party_connected_apps", "auth_methods", "claimed_email_domains", "created_at", "custom_roles", "email_allowed_domains", "email_invites", "email_jit_provisioning", "first_party_connected_apps_allowed_type", "mfa_methods", "mfa_policy", "oauth_tenant_jit_provisioning", "organization_external_id", "organization_id", "organization_logo_url", "organization_name", "organization_slug", "rbac_email_implicit_role_assignments", "scim_active_connection", "sso_active_connections", "sso_default_connection_id", "sso_jit_provisioning", "sso_jit_provisioning_allowed_connections", "third_party_connected_apps_allowed_type", "trusted_metadata", "updated_at"]
    ALLOWED_AUTH_METHODS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIRST_PARTY_CONNECTED_APPS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MFA_METHODS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_OAUTH_TENANTS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_THIRD_PARTY_CONNECTED_APPS_FIELD_NUMBER: _ClassVar[int]
    AUTH_METHODS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_EMAIL_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_ROLES_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ALLOWED_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_INVITES_FIELD_NUMBER: _ClassVar[int]
    EMAIL_JIT_PROVISIONING_FIELD_NUMBER: _ClassVar[int]
    FIRST_PARTY_CONNECTED_APPS_ALLOWED_TYPE_FIELD_NUMBER: _ClassVar[int]
    MFA_METHODS_FIELD_NUMBER: _ClassVar[int]
    MFA_POLICY_FIELD_NUMBER: _ClassVar[int]
    OAUTH_TENANT_JIT_PROVISIONING_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_LOGO_URL_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_NAME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_SLUG_FIELD_NUMBER: _ClassVar[int]
    RBAC_EMAIL_IMPLICIT_ROLE_ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    SCIM_ACTIVE_CONNECTION_FIELD_NUMBER: _ClassVar[int]
    SSO_ACTIVE_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SSO_DEFAULT_CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SSO_JIT_PROVISIONING_ALLOWED_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    SSO_JIT_PROVISIONING_FIELD_NUMBER: _ClassVar[int]
    THIRD_PARTY_CONNECTED_APPS_ALLOWED_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_METADATA_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    allowed_auth_methods: _containers.RepeatedScalarFieldContainer[str]
    allowed_first_party_connected_apps: _containers.RepeatedScalarFieldContainer[str]
    allowed_mfa_methods: _containers.RepeatedScalarFieldContainer[str]
    allowed_oauth_tenants: _struct_pb2.Struct
    allowed_third_party_connected_apps: _containers.RepeatedScalarFieldContainer[str]
    auth_methods: str
    claimed_email_domains: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    custom_roles: _containers.RepeatedCompositeFieldContainer[CustomRole]
    email_allowed_domains: _containers.RepeatedScalarFieldContainer[str]
    email_invites: str
    email_jit_provisioning: str
    first_party_connected_apps_allowed_type: str
    mfa_methods: str
    mfa_policy: str
    oauth_tenant_jit_provisioning: str
    organization_external_id: str
    organization_id: str
    organization_logo_url: str
    organization_name: str
    organization_slug: str
    rbac_email_implicit_role_assignments: _containers.RepeatedCompositeFieldContainer[EmailImplicitRoleAssignment]
    scim_active_connection: ActiveSCIMConnection
    sso_active_connections: _containers.RepeatedCompositeFieldContainer[ActiveSSOConnection]
    sso_default_connection_id: str
    sso_jit_provisioning: str
    sso_jit_provisioning_allowed_connections: _containers.RepeatedScalarFieldContainer[str]
    third_party_connected_apps_allowed_type: str
    trusted_metadata: _struct_pb2.Struct
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., organization_name: _Optional[str] = ..., organization_logo_url: _Optional[str] = ..., organization_slug: _Optional[str] = ..., sso_jit_provisioning: _Optional[str] = ..., sso_jit_provisioning_allowed_connections: _Optional[_Iterable[str]] = ..., sso_active_connections: _Optional[_Iterable[_Union[ActiveSSOConnection, _Mapping]]] = ..., email_allowed_domains: _Optional[_Iterable[str]] = ..., email_jit_provisioning: _Optional[str] = ..., email_invites: _Optional[str] = ..., auth_methods: _Optional[str] = ..., allowed_auth_methods: _Optional[_Iterable[str]] = ..., mfa_policy: _Optional[str] = ..., rbac_email_implicit_role_assignments: _Optional[_Iterable[_Union[EmailImplicitRoleAssignment, _Mapping]]] = ..., mfa_methods: _Optional[str] = ..., allowed_mfa_methods: _Optional[_Iterable[str]] = ..., oauth_tenant_jit_provisioning: _Optional[str] = ..., claimed_email_domains: _Optional[_Iterable[str]] = ..., first_party_connected_apps_allowed_type: _Optional[str] = ..., allowed_first_party_connected_apps: _Optional[_Iterable[str]] = ..., third_party_connected_apps_allowed_type: _Optional[str] = ..., allowed_third_party_connected_apps: _Optional[_Iterable[str]] = ..., custom_roles: _Optional[_Iterable[_Union[CustomRole, _Mapping]]] = ..., trusted_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., organization_external_id: _Optional[str] = ..., sso_default_connection_id: _Optional[str] = ..., scim_active_connection: _Optional[_Union[ActiveSCIMConnection, _Mapping]] = ..., allowed_oauth_tenants: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
