import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

/** The commands of each `<!-- interop:NAME -->` block of the README, in order. */
function readmeWalkthroughs(): Map<string, string[]> {
  const readme = readFileSync("README.md", "utf8");
  const blocks = new Map<string, string[]>();
  for (const match of readme.matchAll(/<!-- interop:([a-z]+) -->\s*```sh\n([\s\S]*?)```/g)) {
    blocks.set(match[1]!, match[2]!.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#")));
  }
  return blocks;
}

/** What each example program prints (Python writes True/False, Go and TypeScript true/false). */
const EXAMPLE_OUTPUT = [
  /^recorded rec_[0-9a-f]{32} replayed=false$/im,
  /^retried: replayed=true same_record=true$/im,
  /^changed retry refused: ALREADY_EXISTS REQUEST_ID_REUSED fields=quantity$/m,
  /^bad input refused: INVALID_ARGUMENT INVALID_QUANTITY fields=quantity$/m,
  /^bill \d{4}-\d{2} USD total 12\.50$/m,
  /^ {2}example-requests 1500 12\.50$/m,
];

/** What the Python and Go examples print of a meter priced per region, with a region's price and a customer's own. */
const DIMENSION_OUTPUT = [
  /^missing dimension refused: INVALID_ARGUMENT DIMENSION_REQUIRED fields=attributes$/m,
  /^regional bill total 30\.50$/m,
  /^ {2}example-vm-hours region=eu 150 23\.50 price v1$/m,
  /^ {2}example-vm-hours region=us 100 7\.00 price v1$/m,
];

// Callers in every language, through the exact commands the README gives:
// only the port differs. scripts/interop-tools.sh installs grpcurl and the
// Python virtualenv (npm run test:interop runs it first).
describe("the README's walkthroughs against a live server", () => {
  const scratch = scratchDirectory();
  const walkthroughs = readmeWalkthroughs();
  const python = execFileSync("scripts/python-env.sh", { encoding: "utf8" }).trim();
  const env = {
    ...process.env,
    TALLY_API_KEY: TEST_ADMIN_KEY,
    PATH: [dirname(python), join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin"), process.env.PATH].join(":"),
  };
  let server: TallyProcess;

  before(async () => {
    server = await startTallyProcess(join(scratch.path, "tally.db"));
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    scratch.cleanup();
  });

  function run(command: string) {
    const local = command.replaceAll("localhost:8080", `127.0.0.1:${server.port}`);
    const result = spawnSync("bash", ["-c", local], { env, encoding: "utf8", timeout: 120_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr, output: result.stdout + result.stderr };
  }

  function commands(name: string, count: number): string[] {
    const block = walkthroughs.get(name);
    assert.ok(block !== undefined, `README has no <!-- interop:${name} --> block`);
    assert.equal(block.length, count, `README's ${name} walkthrough changed: update this test with it`);
    return block;
  }

  for (const [language, count] of [["typescript", 1], ["python", 2], ["go", 1]] as const) {
    it(`${language}: the example records, replays, is refused as it should be, and prints the exact bill`, () => {
      let last = { code: 0 as number | null, output: "" };
      for (const command of commands(language, count)) {
        last = run(command);
        assert.equal(last.code, 0, `${command}\n${last.output}`);
      }
      for (const line of EXAMPLE_OUTPUT) assert.match(last.output, line);
      if (language !== "typescript") for (const line of DIMENSION_OUTPUT) assert.match(last.output, line);
    });
  }

  it("grpcurl: lists, describes and calls through reflection, with readable refusals", () => {
    const [list, describeUsage, record, replay, changed, bad, bill, health] = commands("grpcurl", 8).map(run);
    assert.match(list!.stdout, /^billing\.v1\.UsageService$/m);
    assert.match(list!.stdout, /^grpc\.health\.v1\.Health$/m);
    assert.match(describeUsage!.stdout, /rpc RecordUsage \( \.billing\.v1\.RecordUsageRequest \) returns \( \.billing\.v1\.RecordUsageResponse \)/);
    // The proto comments, from the descriptors with source info that reflection serves.
    assert.match(describeUsage!.stdout, /\/\/ UsageService is the usage ledger: it records what customers used, exactly/);
    assert.match(describeUsage!.stdout, /\/\/ refused records nothing and leaves its request_id free\.\n\s*rpc RecordUsage/);
    const first = JSON.parse(record!.stdout) as { record: { id: string; quantity: string }; replayed?: boolean };
    assert.equal(first.record.quantity, "10");
    assert.equal(first.replayed, undefined);
    const second = JSON.parse(replay!.stdout) as { record: { id: string }; replayed: boolean };
    assert.equal(second.replayed, true);
    assert.equal(second.record.id, first.record.id);
    assert.notEqual(changed!.code, 0);
    assert.match(changed!.stderr, /Code: AlreadyExists/);
    assert.match(changed!.stderr, /"reason": "REQUEST_ID_REUSED"/);
    assert.match(changed!.stderr, /"field": "quantity"/);
    assert.match(bad!.stderr, /Code: InvalidArgument/);
    assert.match(bad!.stderr, /"reason": "INVALID_QUANTITY"/);
    const { bill: current } = JSON.parse(bill!.stdout) as { bill: { total: string; lines: { quantity: string }[] } };
    assert.equal(current.lines[0]?.quantity, "1510");
    assert.equal(current.total, "12.55");
    assert.match(health!.stdout, /"status": "SERVING"/);
  });

  it("curl: Connect JSON over HTTP/1.1, with the right HTTP codes and reasons", () => {
    const [record, replay, changed, bad, bill, billByGet] = commands("curl", 6).map(run);
    const first = JSON.parse(record!.stdout) as { record: { id: string; quantity: string } };
    assert.equal(first.record.quantity, "20");
    const second = JSON.parse(replay!.stdout) as { record: { id: string }; replayed: boolean };
    assert.deepEqual([second.replayed, second.record.id], [true, first.record.id]);
    const [changedBody, changedStatus] = changed!.stdout.trim().split("\n");
    assert.equal(changedStatus, "409");
    assert.equal(JSON.parse(changedBody!).code, "already_exists");
    assert.match(changedBody!, /"reason":"REQUEST_ID_REUSED"/);
    const [badBody, badStatus] = bad!.stdout.trim().split("\n");
    assert.equal(badStatus, "400");
    assert.match(badBody!, /"reason":"INVALID_QUANTITY"/);
    assert.match(badBody!, /"field":"quantity"/);
    for (const response of [bill!, billByGet!]) {
      const { bill: current } = JSON.parse(response.stdout) as { bill: { total: string; lines: { quantity: string }[] } };
      assert.equal(current.lines[0]?.quantity, "1520");
      assert.equal(current.total, "12.60");
    }
  });

  it("stubs a third party generates from proto/ with stock grpcio-tools call the server", () => {
    const out = join(scratch.path, "third-party");
    execFileSync("mkdir", ["-p", out]);
    execFileSync(python, ["-m", "grpc_tools.protoc", "-Iproto", `--python_out=${out}`, `--grpc_python_out=${out}`, ...["billing_service", "catalog_service", "customer_service", "usage_service"].map((name) => `proto/billing/v1/${name}.proto`)]);
    const script = `
import sys; sys.path.insert(0, ${JSON.stringify(out)})
import grpc
from billing.v1 import billing_service_pb2 as b, billing_service_pb2_grpc as bg
with grpc.insecure_channel("127.0.0.1:${server.port}") as channel:
    bill = bg.BillingServiceStub(channel).GetCurrentBill(b.GetCurrentBillRequest(customer_id="example-python"), metadata=(("authorization", "Bearer ${TEST_ADMIN_KEY}"),)).bill
    print(bill.total, bill.lines[0].quantity)
`;
    assert.equal(execFileSync(python, ["-c", script], { encoding: "utf8" }).trim(), "12.55 1510");
  });
});
