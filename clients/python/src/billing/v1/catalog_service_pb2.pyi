import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Aggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATION_UNSPECIFIED: _ClassVar[Aggregation]
    AGGREGATION_SUM: _ClassVar[Aggregation]
    AGGREGATION_COUNT: _ClassVar[Aggregation]
    AGGREGATION_MAX: _ClassVar[Aggregation]
    AGGREGATION_UNIQUE_COUNT: _ClassVar[Aggregation]
    AGGREGATION_LATEST: _ClassVar[Aggregation]

class PricingModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICING_MODEL_UNSPECIFIED: _ClassVar[PricingModel]
    PRICING_MODEL_GRADUATED: _ClassVar[PricingModel]
    PRICING_MODEL_VOLUME: _ClassVar[PricingModel]
    PRICING_MODEL_PACKAGE: _ClassVar[PricingModel]
AGGREGATION_UNSPECIFIED: Aggregation
AGGREGATION_SUM: Aggregation
AGGREGATION_COUNT: Aggregation
AGGREGATION_MAX: Aggregation
AGGREGATION_UNIQUE_COUNT: Aggregation
AGGREGATION_LATEST: Aggregation
PRICING_MODEL_UNSPECIFIED: PricingModel
PRICING_MODEL_GRADUATED: PricingModel
PRICING_MODEL_VOLUME: PricingModel
PRICING_MODEL_PACKAGE: PricingModel

class Meter(_message.Message):
    __slots__ = ("key", "display_name", "unit", "aggregation", "precision", "create_time", "whole_units", "unique_attribute", "dimensions")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WHOLE_UNITS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    key: str
    display_name: str
    unit: str
    aggregation: Aggregation
    precision: int
    create_time: _timestamp_pb2.Timestamp
    whole_units: bool
    unique_attribute: str
    dimensions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., display_name: _Optional[str] = ..., unit: _Optional[str] = ..., aggregation: _Optional[_Union[Aggregation, str]] = ..., precision: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., whole_units: _Optional[bool] = ..., unique_attribute: _Optional[str] = ..., dimensions: _Optional[_Iterable[str]] = ...) -> None: ...

class PriceTier(_message.Message):
    __slots__ = ("up_to", "unit_amount", "flat_amount")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    up_to: str
    unit_amount: str
    flat_amount: str
    def __init__(self, up_to: _Optional[str] = ..., unit_amount: _Optional[str] = ..., flat_amount: _Optional[str] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("id", "meter_key", "currency_code", "tiers", "effective_period", "version", "create_time", "model", "package_size", "dimension_values", "customer_id")
    class DimensionValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_VALUES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    meter_key: str
    currency_code: str
    tiers: _containers.RepeatedCompositeFieldContainer[PriceTier]
    effective_period: str
    version: int
    create_time: _timestamp_pb2.Timestamp
    model: PricingModel
    package_size: str
    dimension_values: _containers.ScalarMap[str, str]
    customer_id: str
    def __init__(self, id: _Optional[str] = ..., meter_key: _Optional[str] = ..., currency_code: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[PriceTier, _Mapping]]] = ..., effective_period: _Optional[str] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model: _Optional[_Union[PricingModel, str]] = ..., package_size: _Optional[str] = ..., dimension_values: _Optional[_Mapping[str, str]] = ..., customer_id: _Optional[str] = ...) -> None: ...

class CreateMeterRequest(_message.Message):
    __slots__ = ("request_id", "meter")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meter: Meter
    def __init__(self, request_id: _Optional[str] = ..., meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class CreateMeterResponse(_message.Message):
    __slots__ = ("meter", "replayed")
    METER_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    replayed: bool
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetMeterRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetMeterResponse(_message.Message):
    __slots__ = ("meter",)
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class ListMetersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMetersResponse(_message.Message):
    __slots__ = ("meters", "next_page_token")
    METERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meters: _containers.RepeatedCompositeFieldContainer[Meter]
    next_page_token: str
    def __init__(self, meters: _Optional[_Iterable[_Union[Meter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePriceRequest(_message.Message):
    __slots__ = ("request_id", "price")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    price: Price
    def __init__(self, request_id: _Optional[str] = ..., price: _Optional[_Union[Price, _Mapping]] = ...) -> None: ...

class CreatePriceResponse(_message.Message):
    __slots__ = ("price", "replayed")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    price: Price
    replayed: bool
    def __init__(self, price: _Optional[_Union[Price, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ListPricesRequest(_message.Message):
    __slots__ = ("meter_key", "page_size", "page_token")
    METER_KEY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meter_key: str
    page_size: int
    page_token: str
    def __init__(self, meter_key: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPricesResponse(_message.Message):
    __slots__ = ("prices", "next_page_token")
    PRICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[Price]
    next_page_token: str
    def __init__(self, prices: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
