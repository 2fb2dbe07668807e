import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { build } from "esbuild";
import { createBillingClient } from "tally/client";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";

const run = promisify(execFile);
const ROOT = resolve(".");
const CONSUMERS = join(ROOT, "test/interop/consumers");

/** Runs a command (asynchronously, so this process's TCP proxy keeps forwarding) and returns its stdout. */
async function sh(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  try {
    const { stdout } = await run(command, args, { ...options, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

/** The package names installed in a node_modules directory (scoped ones as "@scope/name"). */
function installedPackages(nodeModules: string): string[] {
  return readdirSync(nodeModules)
    .filter((name) => !name.startsWith("."))
    .flatMap((name) => (name.startsWith("@") ? readdirSync(join(nodeModules, name)).map((inner) => `${name}/${inner}`) : [name]))
    .sort();
}

// The clients as someone outside the repository gets them: the packed npm
// package installed into an empty directory and run by plain node, the pip
// package in a fresh virtualenv, and a Go module that requires gen/go. Each
// calls a live server through a TCP proxy that cuts its first call's
// connection after the server recorded the event, so each shows its retry
// sends the same request_id: the retry is replayed and the event recorded once.
describe("the client packages, installed outside the repository, against a live server", { timeout: 900_000 }, () => {
  const scratch = scratchDirectory("tally-client-packages-");
  let server: TallyProcess;

  before(async () => {
    server = await startTallyProcess(join(scratch.path, "tally.db"));
    const client = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await client.createPrice({ price: { meterKey: "calls", currencyCode: "USD", tiers: [{ unitAmount: "0.25" }] } });
    for (const externalId of ["node-consumer", "python-consumer", "go-consumer"]) {
      await client.createCustomer({ customer: { externalId, displayName: externalId, currencyCode: "USD" } });
    }
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    scratch.cleanup();
  });

  /** Runs `consume` against a proxy that cuts the first call's response, and checks the event was recorded once. */
  async function throughCutConnection(customerId: string, options: { afterServerSpeaks: boolean }, consume: (address: { url: string; port: number }) => Promise<string>) {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    try {
      proxy.cutResponses(1, options);
      const output = JSON.parse((await consume(proxy)).trim()) as Record<string, unknown>;
      assert.equal(proxy.cuts(), 1, "the first call's connection was not cut");
      const direct = createBillingClient({ baseUrl: server.url, apiKey: TEST_ADMIN_KEY });
      const { records } = await direct.listUsageRecords({ customerId });
      assert.deepEqual(records.map((record) => [record.requestId, record.quantity]), [[output.requestId, "2"]], "recorded once");
      assert.equal(output.replayed, true, "the retry must have been replayed: the cut attempt was recorded");
      assert.equal(output.quantity, "2");
      assert.equal(output.total, "0.50");
      return output;
    } finally {
      await proxy.close();
    }
  }

  it("@tally/client: npm pack, installed into an empty directory with only connect and protobuf-es, runs in plain node", async () => {
    const packed = join(scratch.path, "packed");
    mkdirSync(packed);
    const [tarball] = JSON.parse(await sh("npm", ["pack", "--json", "--pack-destination", packed], { cwd: join(ROOT, "clients/typescript") })) as { filename: string; files: { path: string }[] }[];
    assert.ok(tarball !== undefined);
    const shipped = tarball.files.map((file) => file.path);
    for (const file of ["dist/clients/typescript/src/node.js", "dist/clients/typescript/src/node.d.ts", "dist/clients/typescript/src/browser.js", "dist/gen/ts/billing/v1/usage_service_pb.js", "dist/gen/ts/google/rpc/error_details_pb.d.ts"]) {
      assert.ok(shipped.includes(file), `the tarball lacks ${file}`);
    }
    assert.ok(!shipped.some((file) => file.endsWith(".ts") && !file.endsWith(".d.ts")), "TypeScript sources shipped");

    const app = join(scratch.path, "node-app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await sh("npm", ["install", "--no-audit", "--no-fund", join(packed, tarball.filename.replace(/^.*\//, ""))], { cwd: app });
    assert.deepEqual(installedPackages(join(app, "node_modules")), [
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-node",
      "@connectrpc/connect-web",
      "@tally/client",
    ]);
    copyFileSync(join(CONSUMERS, "consumer.mjs"), join(app, "consumer.mjs"));

    const output = await throughCutConnection("node-consumer", { afterServerSpeaks: false }, (proxy) =>
      sh(process.execPath, ["consumer.mjs", proxy.url, "node-consumer"], { cwd: app, env: { TALLY_API_KEY: TEST_ADMIN_KEY, NODE_OPTIONS: "" } }),
    );
    assert.equal(output.retries, 1);
    assert.equal(output.refusal, "ALREADY_EXISTS REQUEST_ID_REUSED");

    // Its types, as a TypeScript consumer compiles against them.
    writeFileSync(
      join(app, "check.ts"),
      `import { BillingError, createBillingClient, type BillingClient } from "@tally/client";
const client: BillingClient = createBillingClient({ baseUrl: "http://127.0.0.1:8080", protocol: "grpc", httpVersion: "2" });
export async function quantityOf(customerId: string): Promise<string | undefined> {
  const { record, replayed }: { record?: { quantity: string }; replayed: boolean } = await client.recordUsage({ customerId, meterKey: "calls", quantity: 1 });
  return replayed ? undefined : record?.quantity;
}
export const isRefusal = (error: unknown): boolean => error instanceof BillingError && error.reason === "REQUEST_ID_REUSED";
`,
    );
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, typeRoots: [join(ROOT, "node_modules/@types")], types: ["node"] }, files: ["check.ts"] }));
    await sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: app });

    // A bundler targeting browsers picks the browser entry, without connect-node.
    const bundle = await build({
      stdin: { contents: `export { createBillingClient } from "@tally/client";`, resolveDir: app, loader: "js" },
      bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent",
    });
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.ok(inputs.some((input) => input.endsWith("dist/clients/typescript/src/browser.js")), "the browser entry was not used");
    assert.ok(!inputs.some((input) => input.includes("connect-node")), "connect-node reached the browser bundle");
  });

  it("tally-client: pip install into a fresh virtualenv; gRPC's retry policy from its service config replays the cut call", async () => {
    const venv = join(scratch.path, "venv");
    await sh("python3", ["-m", "venv", venv], { cwd: scratch.path });
    const python = join(venv, "bin/python");
    await sh(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", join(ROOT, "clients/python")], { cwd: scratch.path });
    // The stubs come from the installed package, not from the repository.
    const where = await sh(python, ["-c", "import billing.v1.usage_service_pb2_grpc as g, tally_client as t; print(g.__file__); print(t.__file__)"], { cwd: scratch.path });
    for (const file of where.trim().split("\n")) assert.ok(file.startsWith(venv), `${file} is not in the virtualenv`);
    copyFileSync(join(CONSUMERS, "consumer.py"), join(scratch.path, "consumer.py"));

    const output = await throughCutConnection("python-consumer", { afterServerSpeaks: true }, (proxy) =>
      sh(python, ["consumer.py", `127.0.0.1:${proxy.port}`, "python-consumer"], { cwd: scratch.path, env: { TALLY_API_KEY: TEST_ADMIN_KEY } }),
    );
    assert.equal(output.refusal, "ALREADY_EXISTS");
  });

  it("gen/go: a module outside the repository requires it (replace until published) and calls with the service config", async () => {
    const consumer = join(scratch.path, "go-consumer");
    mkdirSync(consumer);
    copyFileSync(join(CONSUMERS, "go/main.go"), join(consumer, "main.go"));
    writeFileSync(
      join(consumer, "go.mod"),
      `module example.com/tally-consumer\n\ngo 1.26.0\n\nrequire example.com/tally/gen/go v0.0.0\n\nreplace example.com/tally/gen/go => ${join(ROOT, "gen/go")}\n`,
    );
    const env = { GOWORK: "off", GOFLAGS: "-mod=mod" };
    await sh("go", ["mod", "tidy"], { cwd: consumer, env });
    await sh("go", ["build", "-o", "consumer", "."], { cwd: consumer, env });

    await throughCutConnection("go-consumer", { afterServerSpeaks: true }, (proxy) =>
      sh(join(consumer, "consumer"), [`127.0.0.1:${proxy.port}`, "go-consumer", join(ROOT, "clients/service-config.json")], {
        cwd: consumer,
        env: { TALLY_API_KEY: TEST_ADMIN_KEY },
      }),
    );
  });
});
