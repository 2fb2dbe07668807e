import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createGrpcJsStubs,
  decodeStatusDetails,
  GrpcStatus,
  type GrpcJsStubs,
  grpcJsFailure,
  unary,
} from "../support/grpc-js-stubs.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Another team's service would reach Tally through stock gRPC tooling built
// from the .proto files alone. This drives the real `tally serve` process with
// @grpc/grpc-js and @grpc/proto-loader, so nothing of ours (generated code,
// connect clients, client library) can hide a wire-level mistake.

/** The proto-loader shapes this file reads (keepCase: snake_case names). */
interface UsageRecord {
  id: string;
  request_id: string;
  customer_id: string;
  meter_key: string;
  quantity: string;
  period: string;
  voided: boolean;
  create_time: { seconds: string; nanos: number } | null;
}
interface RecordUsageReply {
  record: UsageRecord;
  replayed: boolean;
}
interface BillLine {
  meter_key: string;
  quantity: string;
  amount: string;
  price_version: number;
  tiers: { up_to: string; quantity: string; unit_amount: string; amount: string }[];
}
interface Bill {
  customer_id: string;
  period: string;
  status: string;
  currency_code: string;
  lines: BillLine[];
  total: string;
}

describe("a grpc-js client built from the .proto files alone", () => {
  let scratch: ReturnType<typeof scratchDirectory>;
  let db: string;
  let tally: TallyProcess | undefined;
  let stubs: GrpcJsStubs | undefined;
  let customerId = "";
  let hostingRecord: UsageRecord | undefined;
  let billBeforeRestart: Bill | undefined;

  async function start(): Promise<void> {
    tally = await startTallyProcess(db);
    stubs = createGrpcJsStubs(`127.0.0.1:${tally.port}`);
  }

  async function currentBill(): Promise<Bill> {
    const { bill } = await unary<{ bill: Bill }>(stubs!.billing, "GetCurrentBill", { customer_id: customerId });
    return bill;
  }

  before(async () => {
    scratch = scratchDirectory();
    db = join(scratch.path, "tally.db");
    await start();
  });

  after(async () => {
    stubs?.close();
    if (tally !== undefined && tally.child.exitCode === null && tally.child.signalCode === null) {
      tally.child.kill("SIGKILL");
      await tally.exited;
    }
    scratch.cleanup();
  });

  it("creates meters, a graduated-tier price and a customer", async () => {
    const meters: [string, string, number, boolean][] = [
      ["hosting", "AGGREGATION_SUM", 3, false],
      ["egress", "AGGREGATION_SUM", 3, false],
      ["calls", "AGGREGATION_COUNT", 0, true],
    ];
    for (const [key, aggregation, precision, whole_units] of meters) {
      const created = await unary<{ meter: { key: string; aggregation: string; precision: number; whole_units: boolean }; replayed: boolean }>(
        stubs!.catalog,
        "CreateMeter",
        { request_id: `meter-${key}`, meter: { key, display_name: key, unit: "unit", aggregation, precision, whole_units } },
      );
      assert.deepEqual(
        [created.meter.key, created.meter.aggregation, created.meter.precision, created.meter.whole_units, created.replayed],
        [key, aggregation, precision, whole_units, false],
      );
    }
    const prices: [string, [string, string][]][] = [
      ["hosting", [["", "0.0125"]]],
      ["egress", [["100", "0"], ["1000", "0.09"], ["", "0.07"]]],
      ["calls", [["", "0.002"]]],
    ];
    for (const [meterKey, tiers] of prices) {
      const { price, replayed } = await unary<{ price: { id: string; version: number; tiers: { up_to: string; unit_amount: string }[] }; replayed: boolean }>(
        stubs!.catalog,
        "CreatePrice",
        {
          request_id: `price-${meterKey}`,
          price: { meter_key: meterKey, currency_code: "USD", tiers: tiers.map(([up_to, unit_amount]) => ({ up_to, unit_amount })) },
        },
      );
      assert.equal(replayed, false);
      assert.equal(price.version, 1);
      assert.notEqual(price.id, "");
      assert.deepEqual(
        price.tiers.map((tier) => [tier.up_to, tier.unit_amount]),
        tiers,
      );
    }
    const { customer, replayed } = await unary<{ customer: { id: string; external_id: string; currency_code: string }; replayed: boolean }>(
      stubs!.customers,
      "CreateCustomer",
      { request_id: "customer-globex", customer: { external_id: "globex", display_name: "Globex", currency_code: "USD" } },
    );
    assert.equal(replayed, false);
    assert.equal(customer.external_id, "globex");
    assert.equal(customer.currency_code, "USD");
    assert.notEqual(customer.id, "");
    customerId = customer.id;
  });

  it("records usage and answers an identical retry with the same record, replayed=true", async () => {
    const request = { request_id: "gjs-1", customer_id: customerId, meter_key: "hosting", quantity: "58", attributes: { region: "eu-west" } };
    const first = await unary<RecordUsageReply>(stubs!.usage, "RecordUsage", request);
    assert.equal(first.replayed, false);
    assert.match(first.record.id, /\S/);
    assert.deepEqual(
      [first.record.request_id, first.record.customer_id, first.record.meter_key, first.record.quantity, first.record.voided],
      ["gjs-1", customerId, "hosting", "58", false],
    );
    assert.match(first.record.period, /^\d{4}-\d{2}$/);

    const retry = await unary<RecordUsageReply>(stubs!.usage, "RecordUsage", request);
    assert.equal(retry.replayed, true);
    assert.equal(retry.record.id, first.record.id);
    assert.deepEqual(retry.record.create_time, first.record.create_time);
    hostingRecord = first.record;
  });

  it("refuses the same request_id with another quantity: ALREADY_EXISTS, REQUEST_ID_REUSED naming quantity in grpc-status-details-bin", async () => {
    const error = await grpcJsFailure(
      unary(stubs!.usage, "RecordUsage", { request_id: "gjs-1", customer_id: customerId, meter_key: "hosting", quantity: "59", attributes: { region: "eu-west" } }),
    );
    assert.equal(error.code, GrpcStatus.ALREADY_EXISTS, error.message);
    const status = decodeStatusDetails(error);
    assert.equal(status.code, GrpcStatus.ALREADY_EXISTS);
    assert.match(status.message, /quantity/);
    // grpc-js undoes the grpc-message percent-encoding with decodeURI, which
    // leaves reserved characters such as ";" (%3B) encoded; the Status in the
    // details trailer carries the message verbatim.
    assert.equal(decodeURIComponent(error.details), status.message);
    assert.deepEqual(status.detailTypes, ["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.BadRequest"]);
    assert.equal(status.reason, "REQUEST_ID_REUSED");
    assert.notEqual(status.domain, "");
    assert.deepEqual(
      status.fieldViolations.map((violation) => violation.field),
      ["quantity"],
    );
    // The refused retry changed nothing.
    const { record } = await unary<{ record: UsageRecord }>(stubs!.usage, "GetUsageRecord", { id: hostingRecord!.id });
    assert.equal(record.quantity, "58");
  });

  it("50 concurrent duplicates of one request_id make exactly one record, counted once", async () => {
    const request = { request_id: "gjs-concurrent", customer_id: customerId, meter_key: "calls", quantity: "1" };
    const replies = await Promise.all(Array.from({ length: 50 }, () => unary<RecordUsageReply>(stubs!.usage, "RecordUsage", request)));
    assert.equal(new Set(replies.map((reply) => reply.record.id)).size, 1);
    assert.equal(replies.filter((reply) => !reply.replayed).length, 1);
    const calls = (await currentBill()).lines.find((line) => line.meter_key === "calls");
    assert.equal(calls?.quantity, "1");
  });

  it("maps bad input to the right codes and records nothing for it", async () => {
    const cases: [string, object, number, string, string[]][] = [
      ["negative quantity", { request_id: "gjs-bad-1", customer_id: customerId, meter_key: "hosting", quantity: "-1" }, GrpcStatus.INVALID_ARGUMENT, "INVALID_QUANTITY", ["quantity"]],
      ["unknown customer", { request_id: "gjs-bad-2", customer_id: "nobody", meter_key: "hosting", quantity: "1" }, GrpcStatus.NOT_FOUND, "CUSTOMER_NOT_FOUND", ["customer_id"]],
      ["missing request_id", { customer_id: customerId, meter_key: "hosting", quantity: "1" }, GrpcStatus.INVALID_ARGUMENT, "INVALID_FIELD", ["request_id"]],
    ];
    for (const [name, request, code, reason, fields] of cases) {
      const error = await grpcJsFailure(unary(stubs!.usage, "RecordUsage", request));
      assert.equal(error.code, code, `${name}: ${error.message}`);
      const status = decodeStatusDetails(error);
      assert.equal(status.reason, reason, name);
      assert.deepEqual(status.fieldViolations.map((violation) => violation.field), fields, name);
    }
    // gjs-bad-1 stayed free: validation failures claim no request_id.
    const accepted = await unary<RecordUsageReply>(stubs!.usage, "RecordUsage", { request_id: "gjs-bad-1", customer_id: customerId, meter_key: "hosting", quantity: "0" });
    assert.equal(accepted.replayed, false);
  });

  it("bills graduated tiers exactly: egress 1500.5 → 116.04 over tiers 100 / 900 / 500.5", async () => {
    await unary<RecordUsageReply>(stubs!.usage, "RecordUsage", { request_id: "gjs-egress", customer_id: "globex", meter_key: "egress", quantity: "1500.5" });
    const bill = await currentBill();
    assert.equal(bill.customer_id, customerId);
    assert.equal(bill.status, "BILL_STATUS_DRAFT");
    assert.equal(bill.currency_code, "USD");
    assert.deepEqual(
      bill.lines.map((line) => [line.meter_key, line.quantity, line.amount, line.price_version]),
      [
        ["calls", "1", "0.00", 1], // 1 × 0.002 rounds half-even to 0.00
        ["egress", "1500.5", "116.04", 1], // 0 + 81 + 35.035 = 116.035 → 116.04
        ["hosting", "58", "0.72", 1], // 58 × 0.0125 = 0.725 → 0.72 (half to even); the "0" event adds nothing
      ],
    );
    const egress = bill.lines.find((line) => line.meter_key === "egress")!;
    assert.deepEqual(
      egress.tiers.map((tier) => [tier.up_to, tier.quantity, tier.unit_amount, tier.amount]),
      [
        ["100", "100", "0", "0"],
        ["1000", "900", "0.09", "81"],
        ["", "500.5", "0.07", "35.035"],
      ],
    );
    assert.equal(bill.total, "116.76");
    billBeforeRestart = bill;
  });

  it("reports SERVING through grpc.health.v1.Health/Check from grpc-health-check's proto", async () => {
    const overall = await unary<{ status: string }>(stubs!.health, "Check", { service: "" });
    assert.equal(overall.status, "SERVING");
    const usage = await unary<{ status: string }>(stubs!.health, "Check", { service: "billing.v1.UsageService" });
    assert.equal(usage.status, "SERVING");
    const unknown = await grpcJsFailure(unary(stubs!.health, "Check", { service: "no.such.Service" }));
    assert.equal(unknown.code, GrpcStatus.NOT_FOUND);
  });

  it("answers Connect JSON over HTTP/1.1 on the same port with the same bill", async () => {
    const response = await fetch(`${tally!.url}/billing.v1.BillingService/GetCurrentBill`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: JSON.stringify({ customerId: "globex" }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const { bill } = (await response.json()) as { bill: { customerId: string; total: string; lines: { meterKey: string; amount: string }[] } };
    assert.equal(bill.customerId, customerId);
    assert.equal(bill.total, "116.76");
    assert.deepEqual(
      bill.lines.map((line) => [line.meterKey, line.amount]),
      billBeforeRestart!.lines.map((line) => [line.meter_key, line.amount]),
    );
  });

  it("keeps every record and the bill intact across a SIGTERM restart on the same database", async () => {
    const previous = tally!;
    stubs!.close();
    previous.child.kill("SIGTERM");
    const exit = await previous.exited;
    assert.deepEqual(exit, { code: 0, signal: null });

    await start();
    assert.notEqual(tally, previous);
    const { record } = await unary<{ record: UsageRecord }>(stubs!.usage, "GetUsageRecord", { id: hostingRecord!.id });
    assert.deepEqual(record, hostingRecord);
    const replay = await unary<RecordUsageReply>(stubs!.usage, "RecordUsage", {
      request_id: "gjs-1",
      customer_id: customerId,
      meter_key: "hosting",
      quantity: "58",
      attributes: { region: "eu-west" },
    });
    assert.equal(replay.replayed, true);
    assert.equal(replay.record.id, hostingRecord!.id);

    const bill = await currentBill();
    assert.deepEqual(
      { lines: bill.lines, total: bill.total, period: bill.period },
      { lines: billBeforeRestart!.lines, total: billBeforeRestart!.total, period: billBeforeRestart!.period },
    );
  });
});

