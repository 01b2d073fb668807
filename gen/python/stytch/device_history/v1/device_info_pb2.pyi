from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceAttributeDetails(_message.Message):
    __slots__ = ["first_seen_at", "is_new", "last_seen_at"]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    IS_NEW_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    first_seen_at: _timestamp_pb2.Timestamp
    is_new: bool
    last_seen_at: _timestamp_pb2.Timestamp
    def __init__(self, is_new: bool = ..., first_seen_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ["ip_address", "ip_address_details", "ip_geo_city", "ip_geo_country", "ip_geo_country_details", "ip_geo_region", "visitor_id", "visitor_id_details"]
    IP_ADDRESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IP_GEO_CITY_FIELD_NUMBER: _ClassVar[int]
    IP_GEO_COUNTRY_DETAILS_FIELD_NUMBER: _ClassVar[int]
    IP_GEO_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    IP_GEO_REGION_FIELD_NUMBER: _ClassVar[int]
    VISITOR_ID_DETAILS_FIELD_NUMBER: _ClassVar[int]
    VISITOR_ID_FIELD_NUMBER: _ClassVar[int]
    ip_address: str
    ip_address_details: DeviceAttributeDetails
    ip_geo_city: str
    ip_geo_country: str
    ip_geo_country_details: DeviceAttributeDetails
    ip_geo_region: str
    visitor_id: str
    visitor_id_details: DeviceAttributeDetails
    def __init__(self, visitor_id: _Optional[str] = ..., visitor_id_details: _Optional[_Union[DeviceAttributeDetails, _Mapping]] = ..., ip_address: _Optional[str] = ..., ip_address_details: _Optional[_Union[DeviceAttributeDetails, _Mapping]] = ..., ip_geo_city: _Optional[str] = ..., ip_geo_region: _Optional[str] = ..., ip_geo_country: _Optional[str] = ..., ip_geo_country_details: _Optional[_Union[DeviceAttributeDetails, _Mapping]] = ...) -> None: ...
