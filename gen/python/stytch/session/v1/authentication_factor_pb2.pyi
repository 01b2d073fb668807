from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthenticationFactor(_message.Message):
    __slots__ = ["amazon_oauth_factor", "apple_oauth_factor", "authenticator_app_factor", "biometric_factor", "bitbucket_oauth_factor", "coinbase_oauth_factor", "created_at", "crypto_wallet_factor", "delivery_method", "discord_oauth_factor", "email_factor", "embeddable_magic_link_factor", "facebook_oauth_factor", "figma_oauth_factor", "git_lab_oauth_factor", "github_oauth_exchange_factor", "github_oauth_factor", "google_oauth_exchange_factor", "google_oauth_factor", "hubspot_oauth_exchange_factor", "hubspot_oauth_factor", "impersonated_factor", "instagram_oauth_factor", "last_authenticated_at", "linked_in_oauth_factor", "microsoft_oauth_factor", "oauth_access_token_exchange_factor", "oidc_sso_factor", "phone_number_factor", "recovery_code_factor", "salesforce_oauth_factor", "saml_sso_factor", "shopify_oauth_factor", "slack_oauth_exchange_factor", "slack_oauth_factor", "snapchat_oauth_factor", "spotify_oauth_factor", "steam_oauth_factor", "tik_tok_oauth_factor", "trusted_auth_token_factor", "twitch_oauth_factor", "twitter_oauth_factor", "type", "updated_at", "webauthn_factor", "yahoo_oauth_factor"]
    AMAZON_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    APPLE_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATOR_APP_FACTOR_FIELD_NUMBER: _ClassVar[int]
    BIOMETRIC_FACTOR_FIELD_NUMBER: _ClassVar[int]
    BITBUCKET_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    COINBASE_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_WALLET_FACTOR_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_METHOD_FIELD_NUMBER: _ClassVar[int]
    DISCORD_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FACTOR_FIELD_NUMBER: _ClassVar[int]
    EMBEDDABLE_MAGIC_LINK_FACTOR_FIELD_NUMBER: _ClassVar[int]
    FACEBOOK_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    FIGMA_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GITHUB_OAUTH_EXCHANGE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GITHUB_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GIT_LAB_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_OAUTH_EXCHANGE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HUBSPOT_OAUTH_EXCHANGE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    HUBSPOT_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATED_FACTOR_FIELD_NUMBER: _ClassVar[int]
    INSTAGRAM_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    LAST_AUTHENTICATED_AT_FIELD_NUMBER: _ClassVar[int]
    LINKED_IN_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MICROSOFT_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    OAUTH_ACCESS_TOKEN_EXCHANGE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    OIDC_SSO_FACTOR_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FACTOR_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_CODE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SALESFORCE_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SAML_SSO_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SHOPIFY_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SLACK_OAUTH_EXCHANGE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SLACK_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SNAPCHAT_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    SPOTIFY_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    STEAM_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TIK_TOK_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_AUTH_TOKEN_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TWITCH_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TWITTER_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_FACTOR_FIELD_NUMBER: _ClassVar[int]
    YAHOO_OAUTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    amazon_oauth_factor: OAuthFactor
    apple_oauth_factor: OAuthFactor
    authenticator_app_factor: AuthenticatorAppFactor
    biometric_factor: BiometricFactor
    bitbucket_oauth_factor: OAuthFactor
    coinbase_oauth_factor: OAuthFactor
    created_at: _timestamp_pb2.Timestamp
    crypto_wallet_factor: CryptoWalletFactor
    delivery_method: str
    discord_oauth_factor: OAuthFactor
    email_factor: EmailFactor
    embeddable_magic_link_factor: EmbeddableMagicLinkFactor
    facebook_oauth_factor: OAuthFactor
    figma_oauth_factor: OAuthFactor
    git_lab_oauth_factor: OAuthFactor
    github_oauth_exchange_factor: OAuthExchangeFactor
    github_oauth_factor: OAuthFactor
    google_oauth_exchange_factor: OAuthExchangeFactor
    google_oauth_factor: OAuthFactor
    hubspot_oauth_exchange_factor: OAuthExchangeFactor
    hubspot_oauth_factor: OAuthFactor
    impersonated_factor: ImpersonatedFactor
    instagram_oauth_factor: OAuthFactor
    last_authenticated_at: _timestamp_pb2.Timestamp
    linked_in_oauth_factor: OAuthFactor
    microsoft_oauth_factor: OAuthFactor
    oauth_access_token_exchange_factor: OAuthAccessTokenExchangeFactor
    oidc_sso_factor: SSOFactor
    phone_number_factor: PhoneNumberFactor
    recovery_code_factor: RecoveryCodeFactor
    salesforce_oauth_factor: OAuthFactor
    saml_sso_factor: SSOFactor
    shopify_oauth_factor: OAuthFactor
    slack_oauth_exchange_factor: OAuthExchangeFactor
    slack_oauth_factor: OAuthFactor
    snapchat_oauth_factor: OAuthFactor
    spotify_oauth_factor: OAuthFactor
    steam_oauth_factor: OAuthFactor
    tik_tok_oauth_factor: OAuthFactor
    trusted_auth_token_factor: TrustedAuthTokenFactor
    twitch_oauth_factor: OAuthFactor
    twitter_oauth_factor: OAuthFactor
    type: str
    updated_at: _timestamp_pb2.Timestamp
    webauthn_factor: WebAuthnFactor
    yahoo_oauth_factor: OAuthFactor
    def __init__(self, type: _Optional[str] = ..., delivery_method: _Optional[str] = ..., last_authenticated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., email_factor: _Optional[_Union[EmailFactor, _Mapping]] = ..., phone_number_factor: _Optional[_Union[PhoneNumberFactor, _Mapping]] = ..., google_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., microsoft_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., apple_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., webauthn_factor: _Optional[_Union[WebAuthnFactor, _Mapping]] = ..., authenticator_app_factor: _Optional[_Union[AuthenticatorAppFactor, _Mapping]] = ..., github_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., recovery_code_factor: _Optional[_Union[RecoveryCodeFactor, _Mapping]] = ..., facebook_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., crypto_wallet_factor: _Optional[_Union[CryptoWalletFactor, _Mapping]] = ..., amazon_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., bitbucket_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., coinbase_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., discord_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., figma_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., git_lab_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., instagram_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., linked_in_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., shopify_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., slack_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., snapchat_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., spotify_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., steam_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., tik_tok_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., twitch_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., twitter_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., embeddable_magic_link_factor: _Optional[_Union[EmbeddableMagicLinkFactor, _Mapping]] = ..., biometric_factor: _Optional[_Union[BiometricFactor, _Mapping]] = ..., saml_sso_factor: _Optional[_Union[SSOFactor, _Mapping]] = ..., oidc_sso_factor: _Optional[_Union[SSOFactor, _Mapping]] = ..., salesforce_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., yahoo_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., hubspot_oauth_factor: _Optional[_Union[OAuthFactor, _Mapping]] = ..., slack_oauth_exchange_factor: _Optional[_Union[OAuthExchangeFactor, _Mapping]] = ..., hubspot_oauth_exchange_factor: _Optional[_Union[OAuthExchangeFactor, _Mapping]] = ..., github_oauth_exchange_factor: _Optional[_Union[OAuthExchangeFactor, _Mapping]] = ..., google_oauth_exchange_factor: _Optional[_Union[OAuthExchangeFactor, _Mapping]] = ..., impersonated_factor: _Optional[_Union[ImpersonatedFactor, _Mapping]] = ..., oauth_access_token_exchange_factor: _Optional[_Union[OAuthAccessTokenExchangeFactor, _Mapping]] = ..., trusted_auth_token_factor: _Optional[_Union[TrustedAuthTokenFactor, _Mapping]] = ...) -> None: ...

class AuthenticatorAppFactor(_message.Message):
    __slots__ = ["totp_id"]
    TOTP_ID_FIELD_NUMBER: _ClassVar[int]
    totp_id: str
    def __init__(self, totp_id: _Optional[str] = ...) -> None: ...

class BiometricFactor(_message.Message):
    __slots__ = ["biometric_registration_id"]
    BIOMETRIC_REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    biometric_registration_id: str
    def __init__(self, biometric_registration_id: _Optional[str] = ...) -> None: ...

class CryptoWalletFactor(_message.Message):
    __slots__ = ["crypto_wallet_address", "crypto_wallet_id", "crypto_wallet_type"]
    CRYPTO_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_WALLET_TYPE_FIELD_NUMBER: _ClassVar[int]
    crypto_wallet_address: str
    crypto_wallet_id: str
    crypto_wallet_type: str
    def __init__(self, crypto_wallet_id: _Optional[str] = ..., crypto_wallet_address: _Optional[str] = ..., crypto_wallet_type: _Optional[str] = ...) -> None: ...

class EmailFactor(_message.Message):
    __slots__ = ["email_address", "email_id"]
    EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    email_address: str
    email_id: str
    def __init__(self, email_id: _Optional[str] = ..., email_address: _Optional[str] = ...) -> None: ...

class EmbeddableMagicLinkFactor(_message.Message):
    __slots__ = ["embedded_id"]
    EMBEDDED_ID_FIELD_NUMBER: _ClassVar[int]
    embedded_id: str
    def __init__(self, embedded_id: _Optional[str] = ...) -> None: ...

class ImpersonatedFactor(_message.Message):
    __slots__ = ["impersonator_email_address", "impersonator_id"]
    IMPERSONATOR_EMAIL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATOR_ID_FIELD_NUMBER: _ClassVar[int]
    impersonator_email_address: str
    impersonator_id: str
    def __init__(self, impersonator_id: _Optional[str] = ..., impersonator_email_address: _Optional[str] = ...) -> None: ...

class OAuthAccessTokenExchangeFactor(_message.Message):
    __slots__ = ["client_id"]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class OAuthExchangeFactor(_message.Message):
    __slots__ = ["email_id"]
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    def __init__(self, email_id: _Optional[str] = ...) -> None: ...

class OAuthFactor(_message.Message):
    __slots__ = ["email_id", "id", "provider_subject"]
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    id: str
    provider_subject: str
    def __init__(self, id: _Optional[str] = ..., provider_subject: _Optional[str] = ..., email_id: _Optional[str] = ...) -> None: ...

class PhoneNumberFactor(_message.Message):
    __slots__ = ["phone_id", "phone_number"]
    PHONE_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    phone_id: str
    phone_number: str
    def __init__(self, phone_id: _Optional[str] = ..., phone_number: _Optional[str] = ...) -> None: ...

class RecoveryCodeFactor(_message.Message):
    __slots__ = ["totp_recovery_code_id"]
    TOTP_RECOVERY_CODE_ID_FIELD_NUMBER: _ClassVar[int]
    totp_recovery_code_id: str
    def __init__(self, totp_recovery_code_id: _Optional[str] = ...) -> None: ...

class SSOFactor(_message.Message):
    __slots__ = ["external_id", "id", "provider_id"]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    id: str
    provider_id: str
    def __init__(self, id: _Optional[str] = ..., provider_id: _Optional[str] = ..., external_id: _Optional[str] = ...) -> None: ...

class TrustedAuthTokenFactor(_message.Message):
    __slots__ = ["token_id"]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class WebAuthnFactor(_message.Message):
    __slots__ = ["domain", "user_agent", "webauthn_registration_id"]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    WEBAUTHN_REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    user_agent: str
    webauthn_registration_id: str
    def __init__(self, webauthn_registration_id: _Optional[str] = ..., domain: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...
