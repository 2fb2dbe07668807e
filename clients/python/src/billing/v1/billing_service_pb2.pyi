import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BillStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILL_STATUS_UNSPECIFIED: _ClassVar[BillStatus]
    BILL_STATUS_DRAFT: _ClassVar[BillStatus]
    BILL_STATUS_FINALIZED: _ClassVar[BillStatus]
BILL_STATUS_UNSPECIFIED: BillStatus
BILL_STATUS_DRAFT: BillStatus
BILL_STATUS_FINALIZED: BillStatus

class Bill(_message.Message):
    __slots__ = ("customer_id", "period", "status", "currency_code", "lines", "total", "as_of_time", "start_time", "end_time", "finalize_time", "credits_applied", "amount_due", "revision")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FINALIZE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period: str
    status: BillStatus
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[BillLine]
    total: str
    as_of_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    finalize_time: _timestamp_pb2.Timestamp
    credits_applied: str
    amount_due: str
    revision: int
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ..., status: _Optional[_Union[BillStatus, str]] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[BillLine, _Mapping]]] = ..., total: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credits_applied: _Optional[str] = ..., amount_due: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class BillLine(_message.Message):
    __slots__ = ("meter_key", "quantity", "amount", "price_version", "tiers", "display_name", "unit", "price_id", "dimensions")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    meter_key: str
    quantity: str
    amount: str
    price_version: int
    tiers: _containers.RepeatedCompositeFieldContainer[BillLineTier]
    display_name: str
    unit: str
    price_id: str
    dimensions: _containers.ScalarMap[str, str]
    def __init__(self, meter_key: _Optional[str] = ..., quantity: _Optional[str] = ..., amount: _Optional[str] = ..., price_version: _Optional[int] = ..., tiers: _Optional[_Iterable[_Union[BillLineTier, _Mapping]]] = ..., display_name: _Optional[str] = ..., unit: _Optional[str] = ..., price_id: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BillLineTier(_message.Message):
    __slots__ = ("up_to", "quantity", "unit_amount", "amount", "flat_amount", "packages")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    up_to: str
    quantity: str
    unit_amount: str
    amount: str
    flat_amount: str
    packages: str
    def __init__(self, up_to: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., amount: _Optional[str] = ..., flat_amount: _Optional[str] = ..., packages: _Optional[str] = ...) -> None: ...

class GetCurrentBillRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetCurrentBillResponse(_message.Message):
    __slots__ = ("bill",)
    BILL_FIELD_NUMBER: _ClassVar[int]
    bill: Bill
    def __init__(self, bill: _Optional[_Union[Bill, _Mapping]] = ...) -> None: ...

class GetBillRequest(_message.Message):
    __slots__ = ("customer_id", "period", "revision")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period: str
    revision: int
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class GetBillResponse(_message.Message):
    __slots__ = ("bill",)
    BILL_FIELD_NUMBER: _ClassVar[int]
    bill: Bill
    def __init__(self, bill: _Optional[_Union[Bill, _Mapping]] = ...) -> None: ...

class ListBillsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillsResponse(_message.Message):
    __slots__ = ("bills", "next_page_token")
    BILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bills: _containers.RepeatedCompositeFieldContainer[Bill]
    next_page_token: str
    def __init__(self, bills: _Optional[_Iterable[_Union[Bill, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreditGrant(_message.Message):
    __slots__ = ("id", "customer_id", "amount", "currency_code", "expire_time", "reason", "remaining_amount", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMAINING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    amount: str
    currency_code: str
    expire_time: _timestamp_pb2.Timestamp
    reason: str
    remaining_amount: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., amount: _Optional[str] = ..., currency_code: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., remaining_amount: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantCreditRequest(_message.Message):
    __slots__ = ("request_id", "grant")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    grant: CreditGrant
    def __init__(self, request_id: _Optional[str] = ..., grant: _Optional[_Union[CreditGrant, _Mapping]] = ...) -> None: ...

class GrantCreditResponse(_message.Message):
    __slots__ = ("grant", "replayed")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    grant: CreditGrant
    replayed: bool
    def __init__(self, grant: _Optional[_Union[CreditGrant, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ListCreditGrantsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCreditGrantsResponse(_message.Message):
    __slots__ = ("grants", "next_page_token")
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[CreditGrant]
    next_page_token: str
    def __init__(self, grants: _Optional[_Iterable[_Union[CreditGrant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "customer_id", "meter_key", "threshold", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    customer_id: str
    meter_key: str
    threshold: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., customer_id: _Optional[str] = ..., meter_key: _Optional[str] = ..., threshold: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAlertRequest(_message.Message):
    __slots__ = ("request_id", "alert")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    alert: Alert
    def __init__(self, request_id: _Optional[str] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class CreateAlertResponse(_message.Message):
    __slots__ = ("alert", "replayed")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    replayed: bool
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ("after_cursor",)
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    after_cursor: str
    def __init__(self, after_cursor: _Optional[str] = ...) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AlertEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[AlertEvent, _Mapping]]] = ...) -> None: ...

class AlertEvent(_message.Message):
    __slots__ = ("cursor", "alert_id", "customer_id", "period", "value", "crossed_time", "meter_key", "threshold")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CROSSED_TIME_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    alert_id: str
    customer_id: str
    period: str
    value: str
    crossed_time: _timestamp_pb2.Timestamp
    meter_key: str
    threshold: str
    def __init__(self, cursor: _Optional[str] = ..., alert_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., period: _Optional[str] = ..., value: _Optional[str] = ..., crossed_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., meter_key: _Optional[str] = ..., threshold: _Optional[str] = ...) -> None: ...
