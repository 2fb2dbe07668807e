import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  BatchRecordUsageRequestSchema,
  RecordUsageRequestSchema,
} from "../../gen/ts/billing/v1/usage_service_pb.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { auditDatabase } from "../support/crash-audit.js";
import { assertRefused } from "../support/errors.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { faultSeed, healthz, keyedClients, killIfRunning, startFaultServer } from "./fault-harness.js";
import { seededRandom } from "../support/seeded-random.js";
import { bodyOf, contentTypeOf, envelope, sendRaw, type WireAnswer, WIRE_PROTOCOLS, type WireProtocol } from "./raw-wire.js";
import { Code } from "@connectrpc/connect";

// Bad input over real sockets, on every wire form Tally serves (gRPC, gRPC-Web
// over HTTP/1.1 and HTTP/2, Connect JSON and binary over HTTP/1.1 and
// HTTP/2): a corpus where each case has its one right answer, then a seeded
// fuzzer whose every answer must be a refusal of the caller's input. After
// each, the server must still be up and serving, and nothing may be stored.
//
// The right answer: INVALID_ARGUMENT for input that decodes but breaks a rule;
// the protocol's own answer where it has one: HTTP 415 for a content type
// the protocol does not speak, RESOURCE_EXHAUSTED for a message over the size
// limit, UNIMPLEMENTED for a unary call without its message and INTERNAL for a
// binary message that does not decode (gRPC's status table; connect-node
// answers the Connect binary form the same way, HTTP 500).

const RECORD_USAGE = "/billing.v1.UsageService/RecordUsage";
const BATCH_RECORD_USAGE = "/billing.v1.UsageService/BatchRecordUsage";
const BINARY: WireProtocol[] = WIRE_PROTOCOLS.filter((protocol) => !protocol.startsWith("connect-json"));
const JSON_FORMS: WireProtocol[] = ["connect-json-h1", "connect-json-h2"];
const ENVELOPED: WireProtocol[] = ["grpc", "grpc-web-h1", "grpc-web-h2"];
const FUZZ_CASES = Number(process.env.TALLY_FAULT_FUZZ_CASES ?? 600);

/** The fields of a RecordUsage request the corpus varies. */
interface UsageInit {
  requestId: string;
  customerId: string;
  meterKey: string;
  quantity: string;
  eventTime?: { seconds: bigint; nanos: number };
  attributes?: Record<string, string>;
}

/** A RecordUsage request for the fixture's customer; `fields` override. */
function usage(fields: Partial<UsageInit> = {}): UsageInit {
  return { requestId: "bad-input", customerId: "acme", meterKey: "hosting", quantity: "1", ...fields };
}

/** The request in the form `protocol` carries it (binary, or JSON text). */
function encode(protocol: WireProtocol, request: UsageInit): Uint8Array {
  const message = create(RecordUsageRequestSchema, request);
  return protocol.startsWith("connect-json")
    ? Buffer.from(toJsonString(RecordUsageRequestSchema, message))
    : bodyOf(protocol, toBinary(RecordUsageRequestSchema, message));
}

/** What a case must be answered with. */
type Expected = { code: string } | { httpStatus: number };

interface BadInput {
  name: string;
  protocols: readonly WireProtocol[];
  body: (protocol: WireProtocol) => Uint8Array;
  expect: Expected;
  path?: string;
  contentType?: string;
}

const MiB = 1024 * 1024;
const validBinary = toBinary(RecordUsageRequestSchema, create(RecordUsageRequestSchema, usage()));
const invalidArgument = { code: "invalid_argument" };

/** The same bad value on every wire form (`json` spells it where protobuf's JSON writer cannot). */
function everyForm(name: string, request: UsageInit, expect: Expected = invalidArgument, json?: string): BadInput {
  return {
    name,
    protocols: WIRE_PROTOCOLS,
    body: (protocol) => (json !== undefined && protocol.startsWith("connect-json") ? Buffer.from(json) : encode(protocol, request)),
    expect,
  };
}

/** A JSON request with the fixture's fields and `extra` appended verbatim. */
const jsonWith = (extra: string) => `{"requestId":"bad-input","customerId":"acme","meterKey":"hosting","quantity":"1",${extra}}`;

/** Bytes as the message of a binary form (enveloped where the form envelopes). */
function binaryMessage(name: string, message: Uint8Array, expect: Expected): BadInput {
  return { name, protocols: BINARY, body: (protocol) => bodyOf(protocol, message), expect };
}

function jsonText(name: string, text: string | Buffer, expect: Expected = invalidArgument): BadInput {
  return { name, protocols: JSON_FORMS, body: () => (typeof text === "string" ? Buffer.from(text) : text), expect };
}

const CORPUS: BadInput[] = [
  // Quantities: only non-negative decimal strings within 18 integer digits and the meter's precision.
  everyForm("quantity NaN", usage({ quantity: "NaN" })),
  everyForm("quantity Infinity", usage({ quantity: "Infinity" })),
  everyForm("quantity -Infinity", usage({ quantity: "-Infinity" })),
  everyForm("negative quantity", usage({ quantity: "-1" })),
  everyForm("exponent quantity", usage({ quantity: "1e3" })),
  everyForm("hexadecimal quantity", usage({ quantity: "0x10" })),
  everyForm("19 integer digits", usage({ quantity: "1000000000000000000" })),
  everyForm("400-digit quantity", usage({ quantity: "9".repeat(400) })),
  everyForm("more decimals than the meter allows", usage({ meterKey: "calls", quantity: "1.5" })),
  everyForm("empty quantity", usage({ quantity: "" })),
  everyForm("quantity with spaces", usage({ quantity: " 1" })),
  // Strings and maps past their bounds.
  everyForm("missing request_id", usage({ requestId: "" })),
  everyForm("129-character request_id", usage({ requestId: "r".repeat(129) })),
  everyForm("1 MiB request_id", usage({ requestId: "r".repeat(MiB) })),
  everyForm("1 MiB customer_id", usage({ customerId: "c".repeat(MiB) })),
  everyForm("a meter key no meter can have", usage({ meterKey: "NOT A KEY" }), { code: "not_found" }),
  everyForm("10,000 attributes", usage({ attributes: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, "v"])) })),
  everyForm("100 KB attribute value", usage({ attributes: { big: "v".repeat(100_000) } })),
  everyForm("empty attribute key", usage({ attributes: { "": "v" } })),
  everyForm("event_time past year 9999", usage({ eventTime: { seconds: 253402300800n, nanos: 0 } }), invalidArgument, jsonWith('"eventTime":"10000-01-01T00:00:00Z"')),
  everyForm("event_time before 1970", usage({ eventTime: { seconds: -1n, nanos: 0 } }), invalidArgument, jsonWith('"eventTime":"1969-12-31T23:59:59Z"')),
  everyForm("event_time with 2e9 nanos", usage({ eventTime: { seconds: 1n, nanos: 2_000_000_000 } }), invalidArgument, jsonWith('"eventTime":"2026-13-45T99:00:00Z"')),
  everyForm("a message over the 4 MiB limit", usage({ attributes: { big: "v".repeat(5 * MiB) } }), { code: "resource_exhausted" }),
  {
    name: "a batch of 1001 requests",
    protocols: WIRE_PROTOCOLS,
    path: BATCH_RECORD_USAGE,
    body: (protocol) => {
      const batch = create(BatchRecordUsageRequestSchema, {
        requests: Array.from({ length: 1001 }, (_, i) => create(RecordUsageRequestSchema, usage({ requestId: `batch-${i}` }))),
      });
      return protocol.startsWith("connect-json")
        ? Buffer.from(toJsonString(BatchRecordUsageRequestSchema, batch))
        : bodyOf(protocol, toBinary(BatchRecordUsageRequestSchema, batch));
    },
    expect: invalidArgument,
  },
  // Binary messages that do not decode.
  binaryMessage("random bytes", Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x99, 0x67, 0x61, 0x72, 0x62]), { code: "internal" }),
  binaryMessage("truncated inside a field", validBinary.subarray(0, 5), { code: "internal" }),
  binaryMessage("invalid UTF-8 in request_id", Buffer.concat([Buffer.from([0x0a, 0x02, 0xc3, 0x28]), validBinary.subarray(validBinary.indexOf(0x12))]), {
    code: "internal",
  }),
  binaryMessage("request_id with the wrong wire type", Buffer.from([0x08, 0x01]), { code: "internal" }),
  binaryMessage("a length past the end", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x61]), { code: "internal" }),
  binaryMessage("truncated at a field boundary (no quantity)", validBinary.subarray(0, validBinary.indexOf(0x22)), invalidArgument),
  // gRPC and gRPC-Web framing.
  { name: "an envelope promising more than it holds", protocols: ENVELOPED, body: () => envelope(validBinary, validBinary.length + 10), expect: invalidArgument },
  { name: "two messages for a unary call", protocols: ENVELOPED, body: () => Buffer.concat([envelope(validBinary), envelope(validBinary)]), expect: { code: "unimplemented" } },
  { name: "no message for a unary call", protocols: ENVELOPED, body: () => new Uint8Array(0), expect: { code: "unimplemented" } },
  { name: "a compressed flag without grpc-encoding", protocols: ENVELOPED, body: () => envelope(validBinary, validBinary.length, 1), expect: { code: "internal" } },
  { name: "an envelope declaring 64 MiB", protocols: ENVELOPED, body: () => envelope(validBinary, 64 * MiB), expect: { code: "resource_exhausted" } },
  // JSON that is not JSON, or not the message.
  jsonText("not JSON", "garbage{"),
  jsonText("truncated JSON", '{"requestId":"j1","customerId":"acme","meterKey":"host'),
  jsonText("empty body", ""),
  jsonText("invalid UTF-8", Buffer.concat([Buffer.from('{"requestId":"j'), Buffer.from([0xc3, 0x28]), Buffer.from('","customerId":"acme","meterKey":"hosting","quantity":"1"}')])),
  jsonText("a lone surrogate escape", '{"requestId":"j\\ud800","customerId":"acme","meterKey":"hosting","quantity":"1"}'),
  jsonText("quantity as a number", '{"requestId":"j2","customerId":"acme","meterKey":"hosting","quantity":1.5}'),
  jsonText("quantity NaN literal", '{"requestId":"j3","customerId":"acme","meterKey":"hosting","quantity":NaN}'),
  jsonText("quantity 1e999", '{"requestId":"j4","customerId":"acme","meterKey":"hosting","quantity":1e999}'),
  jsonText("deeply nested attributes", `{"requestId":"j5","customerId":"acme","meterKey":"hosting","quantity":"1","attributes":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
  jsonText("deeply nested objects", `{"requestId":"j6","customerId":"acme","meterKey":"hosting","quantity":"1","eventTime":${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}}`),
  jsonText("event_time on November 31 (rolled over to December 1 by Date.parse)", jsonWith('"eventTime":"2026-11-31T00:00:00Z"')),
  jsonText("event_time at hour 24", jsonWith('"eventTime":"2026-11-30T24:00:00Z"')),
  jsonText("event_time on February 30", jsonWith('"eventTime":"2026-02-30T00:00:00Z"')),
  jsonText("an unknown field (eventTime misspelt)", jsonWith('"evntTime":"2026-11-30T00:00:00Z"')),
  jsonText("an unknown field spelt as a proto name", jsonWith('"event_tme":"2026-11-30T00:00:00Z"')),
  jsonText("a top-level array", '[{"requestId":"j7","customerId":"acme","meterKey":"hosting","quantity":"1"}]'),
  jsonText("null", "null"),
  jsonText("attributes as an array", '{"requestId":"j8","customerId":"acme","meterKey":"hosting","quantity":"1","attributes":["a"]}'),
  jsonText("an attribute value that is an object", '{"requestId":"j9","customerId":"acme","meterKey":"hosting","quantity":"1","attributes":{"a":{"b":"c"}}}'),
  jsonText("a body over the 4 MiB limit", `{"requestId":"j10","customerId":"acme","meterKey":"hosting","quantity":"1","attributes":{"a":"${"v".repeat(5 * MiB)}"}}`, {
    code: "resource_exhausted",
  }),
  // Content types the protocol does not speak.
  ...["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"].map(
    (contentType): BadInput => ({
      name: `content type ${contentType}`,
      protocols: WIRE_PROTOCOLS.filter((protocol) => protocol !== "grpc"),
      contentType,
      body: (protocol) => encode(protocol, usage()),
      expect: { httpStatus: 415 },
    }),
  ),
  ...["text/plain", ""].map(
    (contentType): BadInput => ({
      name: `gRPC framing with content type "${contentType}"`,
      protocols: ["grpc"],
      contentType,
      body: (protocol) => encode(protocol, usage()),
      expect: { httpStatus: 415 },
    }),
  ),
  // grpc-web's text mode is answered as gRPC-Web reports a status (HTTP 200,
  // grpc-status UNIMPLEMENTED naming the binary mode), whatever the body.
  {
    name: "content type application/grpc-web-text",
    protocols: ["grpc", "grpc-web-h1", "grpc-web-h2"],
    contentType: "application/grpc-web-text",
    body: (protocol) => encode(protocol, usage()),
    expect: { code: "unimplemented" },
  },
];

/** HTTP status each Connect code travels with (Connect protocol's table). */
const CONNECT_HTTP_STATUS: Record<string, number> = {
  invalid_argument: 400,
  resource_exhausted: 429,
  internal: 500,
  unimplemented: 501,
  not_found: 404,
};

function meets(protocol: WireProtocol, answer: WireAnswer, expect: Expected): boolean {
  if ("httpStatus" in expect) return answer.httpStatus === expect.httpStatus;
  if (answer.code !== expect.code) return false;
  const httpStatus = protocol.startsWith("connect") ? CONNECT_HTTP_STATUS[expect.code] : 200;
  return answer.httpStatus === httpStatus;
}

describe("bad input", () => {
  const scratch = scratchDirectory("tally-bad-input-");
  const db = join(scratch.path, "tally.db");
  let tally: TallyProcess;
  let customerId: string;

  before(async () => {
    tally = await startFaultServer(db);
    ({ customerId } = await createCatalogFixture(keyedClients("grpc", tally.url)));
  });

  after(async () => {
    await killIfRunning(tally);
    scratch.cleanup();
  });

  /** The server is up, answers a good call on every protocol, and stored nothing else. */
  async function assertHealthyAndUntouched(label: string): Promise<void> {
    assert.equal(tally.child.exitCode, null, `the server exited ${label}`);
    assert.equal(await healthz(tally.url), 200, `health ${label}`);
    for (const protocol of ["grpc", "connect-json-h1", "grpc-web-h2"] as const) {
      const clients = keyedClients(protocol, tally.url);
      const { customer } = await clients.customers.getCustomer({ id: customerId });
      assert.equal(customer?.externalId, "acme");
    }
    const { records } = await keyedClients("connect-binary-h2", tally.url).usage.listUsageRecords({ customerId, pageSize: 10 });
    assert.deepEqual(records.map((record) => record.requestId), [], `records stored ${label}`);
    const faults = tally.logs.filter((entry) => entry.msg === "internal fault");
    assert.deepEqual(faults, [], `internal faults logged ${label}`);
  }

  it("answers each case of the corpus on every protocol with its right code, and stores nothing", async (t) => {
    const wrong: string[] = [];
    let asked = 0;
    for (const badInput of CORPUS) {
      for (const protocol of badInput.protocols) {
        const answer = await sendRaw(tally.url, protocol, badInput.path ?? RECORD_USAGE, badInput.body(protocol), { contentType: badInput.contentType });
        asked++;
        if (!meets(protocol, answer, badInput.expect)) {
          wrong.push(`${badInput.name} over ${protocol}: expected ${JSON.stringify(badInput.expect)}, got HTTP ${answer.httpStatus} ${answer.code} ${answer.message.slice(0, 120)} ${answer.transportError ?? ""}`);
        }
      }
    }
    t.diagnostic(`${asked} bad requests over ${WIRE_PROTOCOLS.length} wire forms`);
    assert.deepEqual(wrong, []);
    await assertHealthyAndUntouched("after the corpus");
  });

  it("refuses a total that would overflow, recording none of the atomic batch", async () => {
    const clients = keyedClients("grpc", tally.url);
    // 100 events of 18 nines fit in 20 integer digits; the 101st does not.
    const refused = await assertRefused(
      clients.usage.batchRecordUsage({
        atomic: true,
        requests: Array.from({ length: 101 }, (_, i) => usage({ requestId: `overflow-${i}`, customerId, quantity: "999999999999999999" })),
      }),
      Code.OutOfRange,
      "TOTAL_OVERFLOW",
    );
    assert.match(refused.message, /^requests\[100\]/);
    await assertRefused(
      clients.usage.recordUsage(usage({ requestId: "overflow-one", customerId, quantity: "1".padEnd(19, "0") })),
      Code.InvalidArgument,
      "INVALID_QUANTITY",
      ["quantity"],
    );
    await assertHealthyAndUntouched("after the overflow");
  });

  it("answers every fuzzed request with a refusal of its input, keeps serving, and stores nothing", async (t) => {
    const seed = faultSeed();
    t.diagnostic(`seed ${seed} (replay with TALLY_FAULT_SEED=${seed}); ${FUZZ_CASES} cases`);
    const random = seededRandom(seed);
    // The fuzzer's requests name a customer that does not exist, so a mutation
    // that happens to be valid is refused NOT_FOUND rather than recorded.
    const base = usage({ requestId: `fuzz-${seed}`, customerId: `nobody-${seed}`, meterKey: "calls", quantity: "1" });
    const baseBinary = toBinary(RecordUsageRequestSchema, create(RecordUsageRequestSchema, base));
    const baseJson = Buffer.from(toJsonString(RecordUsageRequestSchema, create(RecordUsageRequestSchema, base)));
    const contentTypes = ["text/plain", "application/json", "application/proto", "application/grpc", "application/grpc-web+proto", "application/connect+proto", ""];

    const mutate = (bytes: Uint8Array): Uint8Array => {
      const out = [...bytes];
      for (let edits = random.int(1, 6); edits > 0; edits--) {
        const at = random.int(0, Math.max(0, out.length - 1));
        switch (random.int(0, 4)) {
          case 0:
            out[at] = (out[at] ?? 0) ^ (1 << random.int(0, 7));
            break;
          case 1:
            out.splice(at, random.int(1, 8));
            break;
          case 2:
            out.splice(at, 0, ...random.bytes(random.int(1, 16)));
            break;
          case 3:
            out.length = at;
            break;
          case 4:
            out.splice(at, 0, ...out.slice(0, random.int(1, 64)));
            break;
        }
      }
      return Uint8Array.from(out);
    };

    const cases = Array.from({ length: FUZZ_CASES }, (_, index) => {
      const protocol = random.pick(WIRE_PROTOCOLS);
      const json = protocol.startsWith("connect-json");
      const roll = random.next();
      let body: Uint8Array;
      let shape: string;
      if (roll < 0.2) {
        body = random.bytes(random.int(0, 3000));
        shape = "random bytes";
      } else if (roll < 0.3 && !json) {
        body = envelope(random.bytes(random.int(0, 200)), random.int(0, 2 ** 31));
        shape = "an envelope with a random length";
      } else {
        const message = mutate(json ? baseJson : baseBinary);
        body = json || protocol.startsWith("connect") ? message : envelope(message);
        shape = "a mutated request";
      }
      const contentType = random.next() < 0.1 ? random.pick(contentTypes) : undefined;
      return { index, protocol, body, shape, contentType };
    });

    const wrong: string[] = [];
    let next = 0;
    const answered = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < cases.length) {
          const fuzz = cases[next++]!;
          const answer = await sendRaw(tally.url, fuzz.protocol, RECORD_USAGE, fuzz.body, { contentType: fuzz.contentType });
          const label = answer.code ?? `HTTP ${answer.httpStatus}`;
          answered.set(label, (answered.get(label) ?? 0) + 1);
          if (!isRefusalOfInput(fuzz.contentType ?? contentTypeOf(fuzz.protocol), answer)) {
            wrong.push(
              `case ${fuzz.index} (${fuzz.shape} over ${fuzz.protocol}, content type ${fuzz.contentType ?? "standard"}, body ${Buffer.from(fuzz.body.subarray(0, 48)).toString("hex")}…): ` +
                `HTTP ${answer.httpStatus} ${answer.code} ${answer.message.slice(0, 100)} ${answer.transportError ?? ""}`,
            );
          }
        }
      }),
    );
    t.diagnostic(`answers: ${[...answered].map(([code, count]) => `${code} ${count}`).join(", ")}`);
    assert.deepEqual(wrong, [], `[seed ${seed}; replay with TALLY_FAULT_SEED=${seed}]`);
    await assertHealthyAndUntouched(`after fuzzing (seed ${seed})`);
  });

  it("leaves nothing in the database file", async () => {
    tally.child.kill("SIGTERM");
    assert.deepEqual(await tally.exited, { code: 0, signal: null });
    const audit = auditDatabase(db);
    assert.deepEqual(audit.integrity, ["ok"]);
    assert.equal(audit.usage.size, 0, `stored: ${[...audit.usage.keys()].slice(0, 5).join(", ")}`);
  });
});

/**
 * An answer that refuses the caller's input: a status that blames the
 * request (or, for a binary message that does not decode or a broken
 * envelope, the protocol's own code), or HTTP 415 for a content type the
 * route does not speak. Never a success, a reset, UNKNOWN or UNAVAILABLE.
 */
function isRefusalOfInput(contentType: string, answer: WireAnswer): boolean {
  if (answer.transportError !== undefined) return false;
  if (answer.httpStatus === 415) return true;
  switch (answer.code) {
    case "invalid_argument":
    case "not_found":
    case "resource_exhausted":
    case "unimplemented":
      return true;
    case "internal":
      return /^(parse binary|protocol error|received compressed)/.test(answer.message) && !contentType.includes("json");
    default:
      return false;
  }
}
