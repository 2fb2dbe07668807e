"""A Python program outside the repository, run in a fresh virtualenv with
nothing but the pip-installed tally-client: it records usage through a
connection the test cuts once (gRPC's retry policy from the package's service
config sends the same message again and the server replays), is refused a
changed retry, and reads the bill.

    python consumer.py <host:port> <customer id>      (TALLY_API_KEY set)
"""

import json
import os
import sys

import grpc
import tally_client
from billing.v1 import billing_service_pb2 as billing
from billing.v1 import billing_service_pb2_grpc as billing_grpc
from billing.v1 import usage_service_pb2 as usage
from billing.v1 import usage_service_pb2_grpc as usage_grpc

target, customer_id = sys.argv[1:3]
with tally_client.channel(target, api_key=os.environ["TALLY_API_KEY"]) as channel:
    usage_stub = usage_grpc.UsageServiceStub(channel)
    request = usage.RecordUsageRequest(customer_id=customer_id, meter_key="calls", quantity="2")
    response = tally_client.call(usage_stub.RecordUsage, request)
    changed = usage.RecordUsageRequest(request_id=request.request_id, customer_id=customer_id, meter_key="calls", quantity="3")
    try:
        tally_client.call(usage_stub.RecordUsage, changed)
        refusal = None
    except grpc.RpcError as error:
        refusal = error.code().name
    bill = tally_client.call(billing_grpc.BillingServiceStub(channel).GetCurrentBill, billing.GetCurrentBillRequest(customer_id=customer_id)).bill
    print(json.dumps({
        "requestId": response.record.request_id,
        "replayed": response.replayed,
        "refusal": refusal,
        "quantity": bill.lines[0].quantity,
        "total": bill.total,
    }))
