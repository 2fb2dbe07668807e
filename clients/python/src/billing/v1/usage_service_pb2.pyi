import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageRecordView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_RECORD_VIEW_UNSPECIFIED: _ClassVar[UsageRecordView]
    USAGE_RECORD_VIEW_BASIC: _ClassVar[UsageRecordView]
    USAGE_RECORD_VIEW_FULL: _ClassVar[UsageRecordView]

class UsageChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_CHANGE_KIND_UNSPECIFIED: _ClassVar[UsageChangeKind]
    USAGE_CHANGE_KIND_RECORDED: _ClassVar[UsageChangeKind]
    USAGE_CHANGE_KIND_VOIDED: _ClassVar[UsageChangeKind]
USAGE_RECORD_VIEW_UNSPECIFIED: UsageRecordView
USAGE_RECORD_VIEW_BASIC: UsageRecordView
USAGE_RECORD_VIEW_FULL: UsageRecordView
USAGE_CHANGE_KIND_UNSPECIFIED: UsageChangeKind
USAGE_CHANGE_KIND_RECORDED: UsageChangeKind
USAGE_CHANGE_KIND_VOIDED: UsageChangeKind

class UsageRecord(_message.Message):
    __slots__ = ("id", "request_id", "customer_id", "meter_key", "quantity", "event_time", "create_time", "period", "voided", "attributes", "void_reason", "void_time")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    VOID_REASON_FIELD_NUMBER: _ClassVar[int]
    VOID_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    customer_id: str
    meter_key: str
    quantity: str
    event_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    period: str
    voided: bool
    attributes: _containers.ScalarMap[str, str]
    void_reason: str
    void_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ..., quantity: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[str] = ..., voided: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, str]] = ..., void_reason: _Optional[str] = ..., void_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("request_id", "customer_id", "meter_key", "quantity", "event_time", "attributes", "correction")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    customer_id: str
    meter_key: str
    quantity: str
    event_time: _timestamp_pb2.Timestamp
    attributes: _containers.ScalarMap[str, str]
    correction: bool
    def __init__(self, request_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ..., quantity: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., correction: _Optional[bool] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("record", "replayed")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    record: UsageRecord
    replayed: bool
    def __init__(self, record: _Optional[_Union[UsageRecord, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class BatchRecordUsageRequest(_message.Message):
    __slots__ = ("requests", "atomic", "view")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RecordUsageRequest]
    atomic: bool
    view: UsageRecordView
    def __init__(self, requests: _Optional[_Iterable[_Union[RecordUsageRequest, _Mapping]]] = ..., atomic: _Optional[bool] = ..., view: _Optional[_Union[UsageRecordView, str]] = ...) -> None: ...

class BatchRecordUsageResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchRecordUsageResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchRecordUsageResult, _Mapping]]] = ...) -> None: ...

class BatchRecordUsageResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: RecordUsageResponse
    error: UsageError
    def __init__(self, response: _Optional[_Union[RecordUsageResponse, _Mapping]] = ..., error: _Optional[_Union[UsageError, _Mapping]] = ...) -> None: ...

class StreamUsageRequest(_message.Message):
    __slots__ = ("requests", "sequence", "view")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RecordUsageRequest]
    sequence: int
    view: UsageRecordView
    def __init__(self, requests: _Optional[_Iterable[_Union[RecordUsageRequest, _Mapping]]] = ..., sequence: _Optional[int] = ..., view: _Optional[_Union[UsageRecordView, str]] = ...) -> None: ...

class StreamUsageResponse(_message.Message):
    __slots__ = ("sequence", "results")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    results: _containers.RepeatedCompositeFieldContainer[BatchRecordUsageResult]
    def __init__(self, sequence: _Optional[int] = ..., results: _Optional[_Iterable[_Union[BatchRecordUsageResult, _Mapping]]] = ...) -> None: ...

class UsageError(_message.Message):
    __slots__ = ("code", "message", "reason", "field_violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    field_violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., field_violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class GetUsageRecordRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetUsageRecordResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: UsageRecord
    def __init__(self, record: _Optional[_Union[UsageRecord, _Mapping]] = ...) -> None: ...

class ListUsageRecordsRequest(_message.Message):
    __slots__ = ("customer_id", "meter_key", "start_time", "end_time", "page_size", "page_token", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter_key: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListUsageRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[UsageRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[UsageRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDailyUsageRequest(_message.Message):
    __slots__ = ("customer_id", "period", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetDailyUsageResponse(_message.Message):
    __slots__ = ("customer_id", "period", "days")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period: str
    days: _containers.RepeatedCompositeFieldContainer[DailyUsage]
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ..., days: _Optional[_Iterable[_Union[DailyUsage, _Mapping]]] = ...) -> None: ...

class DailyUsage(_message.Message):
    __slots__ = ("date", "meter_key", "quantity", "event_count")
    DATE_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    date: str
    meter_key: str
    quantity: str
    event_count: int
    def __init__(self, date: _Optional[str] = ..., meter_key: _Optional[str] = ..., quantity: _Optional[str] = ..., event_count: _Optional[int] = ...) -> None: ...

class VoidUsageRequest(_message.Message):
    __slots__ = ("request_id", "reason", "correction")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CORRECTION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: str
    correction: bool
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[str] = ..., correction: _Optional[bool] = ...) -> None: ...

class VoidUsageResponse(_message.Message):
    __slots__ = ("record", "replayed")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    record: UsageRecord
    replayed: bool
    def __init__(self, record: _Optional[_Union[UsageRecord, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class UsageLimit(_message.Message):
    __slots__ = ("customer_id", "meter_key", "limit", "update_time")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter_key: str
    limit: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ..., limit: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetUsageLimitRequest(_message.Message):
    __slots__ = ("request_id", "limit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    limit: UsageLimit
    def __init__(self, request_id: _Optional[str] = ..., limit: _Optional[_Union[UsageLimit, _Mapping]] = ...) -> None: ...

class SetUsageLimitResponse(_message.Message):
    __slots__ = ("limit", "replayed")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    limit: UsageLimit
    replayed: bool
    def __init__(self, limit: _Optional[_Union[UsageLimit, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetUsageAllowanceRequest(_message.Message):
    __slots__ = ("customer_id", "meter_key")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter_key: str
    def __init__(self, customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ...) -> None: ...

class GetUsageAllowanceResponse(_message.Message):
    __slots__ = ("limit", "used", "remaining", "period")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    limit: str
    used: str
    remaining: str
    period: str
    def __init__(self, limit: _Optional[str] = ..., used: _Optional[str] = ..., remaining: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class WatchUsageRequest(_message.Message):
    __slots__ = ("after_cursor", "customer_id")
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    after_cursor: str
    customer_id: str
    def __init__(self, after_cursor: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class WatchUsageResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[UsageChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[UsageChange, _Mapping]]] = ...) -> None: ...

class UsageChange(_message.Message):
    __slots__ = ("cursor", "record", "kind")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    record: UsageRecord
    kind: UsageChangeKind
    def __init__(self, cursor: _Optional[str] = ..., record: _Optional[_Union[UsageRecord, _Mapping]] = ..., kind: _Optional[_Union[UsageChangeKind, str]] = ...) -> None: ...
