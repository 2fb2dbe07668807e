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
    __slots__ = ("customer_id", "period", "status", "currency_code", "lines", "total", "as_of_time", "start_time", "end_time", "finalize_time")
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
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ..., status: _Optional[_Union[BillStatus, str]] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[BillLine, _Mapping]]] = ..., total: _Optional[str] = ..., as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BillLine(_message.Message):
    __slots__ = ("meter_key", "quantity", "amount", "price_version", "tiers", "display_name", "unit", "price_id")
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    meter_key: str
    quantity: str
    amount: str
    price_version: int
    tiers: _containers.RepeatedCompositeFieldContainer[BillLineTier]
    display_name: str
    unit: str
    price_id: str
    def __init__(self, meter_key: _Optional[str] = ..., quantity: _Optional[str] = ..., amount: _Optional[str] = ..., price_version: _Optional[int] = ..., tiers: _Optional[_Iterable[_Union[BillLineTier, _Mapping]]] = ..., display_name: _Optional[str] = ..., unit: _Optional[str] = ..., price_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("customer_id", "period")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    period: str
    def __init__(self, customer_id: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

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
