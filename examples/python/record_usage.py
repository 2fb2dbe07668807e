"""Tally from Python with grpcio: create a customer, record usage with a
request id, retry it, see the refusals a caller must handle, and print the
current bill; then price a meter per region, with a region's price and one
customer's own price, and print that customer's bill line by line.

    pip install -r examples/python/requirements.txt
    python3 examples/python/record_usage.py localhost:8080 example-python
"""

import os
import pathlib
import sys

# The generated stubs (package billing.v1) are the package tally-client's
# (`pip install ./clients/python`); from a clone they also load in place.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from billing.v1 import billing_service_pb2 as billing  # noqa: E402
from billing.v1 import billing_service_pb2_grpc as billing_grpc  # noqa: E402
from billing.v1 import catalog_service_pb2 as catalog  # noqa: E402
from billing.v1 import catalog_service_pb2_grpc as catalog_grpc  # noqa: E402
from billing.v1 import customer_service_pb2 as customers  # noqa: E402
from billing.v1 import customer_service_pb2_grpc as customers_grpc  # noqa: E402
from billing.v1 import usage_service_pb2 as usage  # noqa: E402
from billing.v1 import usage_service_pb2_grpc as usage_grpc  # noqa: E402


def refusal(error: grpc.RpcError) -> str:
    """The status code, the reason (google.rpc.ErrorInfo) and the fields at
    fault (google.rpc.BadRequest) of a refused call."""
    reason, fields = "", []
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields = [violation.field for violation in bad_request.field_violations]
    return f"{error.code().name} {reason} fields={','.join(fields)}"


def main(target: str, customer_ref: str) -> None:
    # Every call but health needs an API key (TALLY_API_KEY), sent as metadata.
    auth = (("authorization", f"Bearer {os.environ['TALLY_API_KEY']}"),)
    with grpc.insecure_channel(target) as channel:
        catalog_stub = catalog_grpc.CatalogServiceStub(channel)
        customer_stub = customers_grpc.CustomerServiceStub(channel)
        usage_stub = usage_grpc.UsageServiceStub(channel)
        billing_stub = billing_grpc.BillingServiceStub(channel)

        # The catalog: fixed request ids make these safe to run again.
        catalog_stub.CreateMeter(catalog.CreateMeterRequest(
            request_id="example-meter",
            meter=catalog.Meter(key="example-requests", display_name="Example requests", unit="request",
                                aggregation=catalog.AGGREGATION_SUM, whole_units=True)), metadata=auth)
        catalog_stub.CreatePrice(catalog.CreatePriceRequest(
            request_id="example-price",
            price=catalog.Price(meter_key="example-requests", currency_code="USD", tiers=[
                catalog.PriceTier(up_to="1000", unit_amount="0.01"),
                catalog.PriceTier(unit_amount="0.005"),
            ])), metadata=auth)
        customer_stub.CreateCustomer(customers.CreateCustomerRequest(
            request_id=f"example-customer-{customer_ref}",
            customer=customers.Customer(external_id=customer_ref, display_name=f"Example {customer_ref}",
                                        currency_code="USD")), metadata=auth)

        request = usage.RecordUsageRequest(request_id=f"example-usage-{customer_ref}", customer_id=customer_ref,
                                           meter_key="example-requests", quantity="1500")
        first = usage_stub.RecordUsage(request, metadata=auth)
        print(f"recorded {first.record.id} replayed={first.replayed}")
        retry = usage_stub.RecordUsage(request, metadata=auth)
        print(f"retried: replayed={retry.replayed} same_record={retry.record.id == first.record.id}")

        try:
            changed = usage.RecordUsageRequest()
            changed.CopyFrom(request)
            changed.quantity = "1501"
            usage_stub.RecordUsage(changed, metadata=auth)
        except grpc.RpcError as error:
            print(f"changed retry refused: {refusal(error)}")
        try:
            usage_stub.RecordUsage(usage.RecordUsageRequest(
                request_id=f"example-bad-{customer_ref}", customer_id=customer_ref,
                meter_key="example-requests", quantity="-5"), metadata=auth)
        except grpc.RpcError as error:
            print(f"bad input refused: {refusal(error)}")

        bill = billing_stub.GetCurrentBill(billing.GetCurrentBillRequest(customer_id=customer_ref), metadata=auth).bill
        print(f"bill {bill.period} {bill.currency_code} total {bill.total}")
        for line in bill.lines:
            print(f"  {line.meter_key} {line.quantity} {line.amount}")

        # A meter billed per region: the catalog's price, a price for region "eu" (the most specific
        # dimension_values a line holds wins) and one customer's own price (it wins over the catalog's).
        catalog_stub.CreateMeter(catalog.CreateMeterRequest(
            request_id="example-vm-meter",
            meter=catalog.Meter(key="example-vm-hours", display_name="Example VM hours", unit="hour",
                                aggregation=catalog.AGGREGATION_SUM, precision=3, dimensions=["region"])), metadata=auth)
        catalog_stub.CreatePrice(catalog.CreatePriceRequest(
            request_id="example-vm-price",
            price=catalog.Price(meter_key="example-vm-hours", currency_code="USD",
                                tiers=[catalog.PriceTier(unit_amount="0.10")])), metadata=auth)
        catalog_stub.CreatePrice(catalog.CreatePriceRequest(
            request_id="example-vm-price-eu",
            price=catalog.Price(meter_key="example-vm-hours", currency_code="USD", dimension_values={"region": "eu"},
                                model=catalog.PRICING_MODEL_VOLUME, tiers=[
                                    catalog.PriceTier(up_to="100", unit_amount="0.12"),
                                    catalog.PriceTier(unit_amount="0.09", flat_amount="10"),
                                ])), metadata=auth)
        regional = f"{customer_ref}-regions"
        customer_stub.CreateCustomer(customers.CreateCustomerRequest(
            request_id=f"example-customer-{regional}",
            customer=customers.Customer(external_id=regional, display_name=f"Example {regional}",
                                        currency_code="USD")), metadata=auth)
        catalog_stub.CreatePrice(catalog.CreatePriceRequest(
            request_id=f"example-vm-price-{regional}",
            price=catalog.Price(meter_key="example-vm-hours", currency_code="USD", customer_id=regional,
                                tiers=[catalog.PriceTier(unit_amount="0.07")])), metadata=auth)
        # eu: 150 x 0.09 + 10 = 23.50 (the eu price); us: 100 x 0.07 = 7.00 (the customer's own)
        for region, quantity in (("eu", "150"), ("us", "100")):
            usage_stub.RecordUsage(usage.RecordUsageRequest(
                request_id=f"example-vm-{regional}-{region}", customer_id=regional, meter_key="example-vm-hours",
                quantity=quantity, attributes={"region": region}), metadata=auth)
        try:
            usage_stub.RecordUsage(usage.RecordUsageRequest(
                request_id=f"example-vm-{regional}-none", customer_id=regional, meter_key="example-vm-hours",
                quantity="1"), metadata=auth)
        except grpc.RpcError as error:
            print(f"missing dimension refused: {refusal(error)}")
        bill = billing_stub.GetCurrentBill(billing.GetCurrentBillRequest(customer_id=regional), metadata=auth).bill
        print(f"regional bill total {bill.total}")
        for line in bill.lines:
            dimensions = ",".join(f"{key}={value}" for key, value in sorted(line.dimensions.items()))
            print(f"  {line.meter_key} {dimensions} {line.quantity} {line.amount} price v{line.price_version}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "localhost:8080", sys.argv[2] if len(sys.argv) > 2 else "example-python")
