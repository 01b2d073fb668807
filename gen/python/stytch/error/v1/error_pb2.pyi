from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StytchError(_message.Message):
    __slots__ = ["error_details", "error_message", "error_type", "error_url", "request_id", "status_code"]
    ERROR_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_URL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    error_details: _struct_pb2.Struct
    error_message: str
    error_type: str
    error_url: str
    request_id: str
    status_code: int
    def __init__(self, status_code: _Optional[int] = ..., request_id: _Optional[str] = ..., error_type: _Optional[str] = ..., error_message: _Optional[str] = ..., error_url: _Optional[str] = ..., error_details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
