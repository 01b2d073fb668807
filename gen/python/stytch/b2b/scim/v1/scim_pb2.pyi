from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Address(_message.Message):
    __slots__ = ["country", "formatted", "locality", "postal_code", "primary", "region", "street_address", "type"]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    FORMATTED_FIELD_NUMBER: _ClassVar[int]
    LOCALITY_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STREET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    country: str
    formatted: str
    locality: str
    postal_code: str
    primary: bool
    region: str
    street_address: str
    type: str
    def __init__(self, formatted: _Optional[str] = ..., street_address: _Optional[str] = ..., locality: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ..., type: _Optional[str] = ..., primary: bool = ...) -> None: ...

class EnterpriseExtension(_message.Message):
    __slots__ = ["cost_center", "department", "division", "employee_number", "manager", "organization"]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    DIVISION_FIELD_NUMBER: _ClassVar[int]
    EMPLOYEE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    cost_center: str
    department: str
    division: str
    employee_number: str
    manager: Manager
    organization: str
    def __init__(self, employee_number: _Optional[str] = ..., cost_center: _Optional[str] = ..., division: _Optional[str] = ..., department: _Optional[str] = ..., organization: _Optional[str] = ..., manager: _Optional[_Union[Manager, _Mapping]] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ["display", "value"]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    display: str
    value: str
    def __init__(self, value: _Optional[str] = ..., display: _Optional[str] = ...) -> None: ...

class Manager(_message.Message):
    __slots__ = ["display_name", "ref", "value"]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    ref: str
    value: str
    def __init__(self, value: _Optional[str] = ..., ref: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class MultiValuedAttribute(_message.Message):
    __slots__ = ["primary", "type", "value"]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    primary: bool
    type: str
    value: str
    def __init__(self, value: _Optional[str] = ..., type: _Optional[str] = ..., primary: bool = ...) -> None: ...

class Name(_message.Message):
    __slots__ = ["family_name", "formatted", "given_name", "honorific_prefix", "honorific_suffix", "middle_name"]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMATTED_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    HONORIFIC_PREFIX_FIELD_NUMBER: _ClassVar[int]
    HONORIFIC_SUFFIX_FIELD_NUMBER: _ClassVar[int]
    MIDDLE_NAME_FIELD_NUMBER: _ClassVar[int]
    family_name: str
    formatted: str
    given_name: str
    honorific_prefix: str
    honorific_suffix: str
    middle_name: str
    def __init__(self, formatted: _Optional[str] = ..., family_name: _Optional[str] = ..., given_name: _Optional[str] = ..., middle_name: _Optional[str] = ..., honorific_prefix: _Optional[str] = ..., honorific_suffix: _Optional[str] = ...) -> None: ...

class SCIMAttributes(_message.Message):
    __slots__ = ["active", "addresses", "display_name", "emails", "enterprise_extension", "entitlements", "external_id", "groups", "id", "ims", "locale", "name", "nick_name", "phone_numbers", "photos", "preferred_language", "profile_url", "roles", "timezone", "title", "user_name", "user_type", "x509certificates"]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    IMS_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NICK_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_URL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    X509CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    active: bool
    addresses: _containers.RepeatedCompositeFieldContainer[Address]
    display_name: str
    emails: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    enterprise_extension: EnterpriseExtension
    entitlements: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    external_id: str
    groups: _containers.RepeatedCompositeFieldContainer[Group]
    id: str
    ims: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    locale: str
    name: Name
    nick_name: str
    phone_numbers: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    photos: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    preferred_language: str
    profile_url: str
    roles: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    timezone: str
    title: str
    user_name: str
    user_type: str
    x509certificates: _containers.RepeatedCompositeFieldContainer[MultiValuedAttribute]
    def __init__(self, user_name: _Optional[str] = ..., id: _Optional[str] = ..., external_id: _Optional[str] = ..., active: bool = ..., groups: _Optional[_Iterable[_Union[Group, _Mapping]]] = ..., display_name: _Optional[str] = ..., nick_name: _Optional[str] = ..., profile_url: _Optional[str] = ..., user_type: _Optional[str] = ..., title: _Optional[str] = ..., preferred_language: _Optional[str] = ..., locale: _Optional[str] = ..., timezone: _Optional[str] = ..., emails: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., phone_numbers: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., addresses: _Optional[_Iterable[_Union[Address, _Mapping]]] = ..., ims: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., photos: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., entitlements: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., roles: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., x509certificates: _Optional[_Iterable[_Union[MultiValuedAttribute, _Mapping]]] = ..., name: _Optional[_Union[Name, _Mapping]] = ..., enterprise_extension: _Optional[_Union[EnterpriseExtension, _Mapping]] = ...) -> None: ...
