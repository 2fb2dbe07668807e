import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, it, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createHandlerContext, createRouterTransport } from "@connectrpc/connect";
import type { Client, ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/ts/health/v1/health_pb.js";
import { createHealthService, type HealthService } from "../../src/server/health-service.js";
import { createOnePortListener, type OnePortListener } from "../../src/server/one-port-listener.js";

const usageService = "billing.v1.UsageService";

function inMemory(health: HealthService): Client<typeof Health> {
  return createClient(Health, createRouterTransport((router) => health.register(router)));
}

// Pulls messages from a Watch call one at a time, so a test can assert on
// each before causing the next.
function watcher(stream: AsyncIterable<{ status: Status }>) {
  const iterator = stream[Symbol.asyncIterator]();
  return {
    async next(): Promise<Status> {
      const result = await iterator.next();
      assert.equal(result.done, false, "the watch ended early");
      return (result.value as { status: Status }).status;
    },
    async ended(): Promise<boolean> {
      return (await iterator.next()).done === true;
    },
  };
}

describe("createHealthService", { timeout: 20_000 }, () => {
  describe("Check", () => {
    it("reports the whole server SERVING by default", async () => {
      const client = inMemory(createHealthService());
      assert.equal((await client.check({ service: "" })).status, Status.SERVING);
    });

    it("starts from serverStatus when given", async () => {
      const client = inMemory(createHealthService({ serverStatus: Status.NOT_SERVING }));
      assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
    });

    it("reports the status set for a service", async () => {
      const health = createHealthService();
      const client = inMemory(health);
      health.setStatus(usageService, Status.SERVING);
      assert.equal((await client.check({ service: usageService })).status, Status.SERVING);
      health.setStatus(usageService, Status.NOT_SERVING);
      assert.equal((await client.check({ service: usageService })).status, Status.NOT_SERVING);
    });

    it("fails with NOT_FOUND for a service it does not know", async () => {
      const client = inMemory(createHealthService());
      await assert.rejects(client.check({ service: "billing.v1.NoSuchService" }), (error: unknown) => {
        assert.equal(ConnectError.from(error).code, Code.NotFound);
        return true;
      });
    });

    it("reports NOT_SERVING everywhere after setAllNotServing, and ignores later setStatus", async () => {
      const health = createHealthService();
      const client = inMemory(health);
      health.setStatus(usageService, Status.SERVING);
      health.setAllNotServing();
      assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
      assert.equal((await client.check({ service: usageService })).status, Status.NOT_SERVING);
      health.setStatus("", Status.SERVING);
      assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
    });

    it("keeps answering after close()", async () => {
      const health = createHealthService();
      health.close();
      assert.equal((await inMemory(health).check({ service: "" })).status, Status.SERVING);
    });
  });

  describe("List", () => {
    it("lists every known service with its status", async () => {
      const health = createHealthService();
      health.setStatus(usageService, Status.NOT_SERVING);
      const { statuses } = await inMemory(health).list({});
      assert.deepEqual(
        Object.fromEntries(Object.entries(statuses).map(([service, response]) => [service, response.status])),
        { "": Status.SERVING, [usageService]: Status.NOT_SERVING },
      );
    });
  });

  describe("Watch", () => {
    it("sends the current status at once, then every change", async () => {
      const health = createHealthService();
      const abort = new AbortController();
      const watch = watcher(inMemory(health).watch({ service: "" }, { signal: abort.signal }));
      assert.equal(await watch.next(), Status.SERVING);
      health.setStatus("", Status.NOT_SERVING);
      assert.equal(await watch.next(), Status.NOT_SERVING);
      health.setStatus("", Status.SERVING);
      assert.equal(await watch.next(), Status.SERVING);
      abort.abort();
    });

    it("does not repeat a status that did not change", async () => {
      const health = createHealthService();
      const abort = new AbortController();
      const watch = watcher(inMemory(health).watch({ service: "" }, { signal: abort.signal }));
      assert.equal(await watch.next(), Status.SERVING);
      health.setStatus("", Status.SERVING);
      health.setStatus(usageService, Status.NOT_SERVING);
      health.setStatus("", Status.NOT_SERVING);
      assert.equal(await watch.next(), Status.NOT_SERVING);
      abort.abort();
    });

    it("sends SERVICE_UNKNOWN for an unknown service and keeps watching", async () => {
      const health = createHealthService();
      const abort = new AbortController();
      const watch = watcher(inMemory(health).watch({ service: usageService }, { signal: abort.signal }));
      assert.equal(await watch.next(), Status.SERVICE_UNKNOWN);
      health.setStatus(usageService, Status.SERVING);
      assert.equal(await watch.next(), Status.SERVING);
      abort.abort();
    });

    it("sends NOT_SERVING on setAllNotServing and ends on close()", async () => {
      const health = createHealthService();
      const watches = [watcher(inMemory(health).watch({ service: "" })), watcher(inMemory(health).watch({ service: "" }))];
      for (const watch of watches) {
        assert.equal(await watch.next(), Status.SERVING);
      }
      health.setAllNotServing();
      for (const watch of watches) {
        assert.equal(await watch.next(), Status.NOT_SERVING);
      }
      health.close();
      for (const watch of watches) {
        assert.equal(await watch.ended(), true);
      }
    });

    // The transport resets a cancelled call's stream either way; what a
    // missed cancellation leaks is the handler, waiting for a change that
    // nobody will read. So this drives the implementation directly.
    it("returns from the handler as soon as the call is cancelled", async () => {
      let implementation: Partial<ServiceImpl<typeof Health>> = {};
      const captureRouter = {
        service(_service: unknown, impl: Partial<ServiceImpl<typeof Health>>) {
          implementation = impl;
          return this;
        },
      } as unknown as ConnectRouter;
      createHealthService().register(captureRouter);
      assert.ok(implementation.watch);

      const call = new AbortController();
      const context = createHandlerContext({
        service: Health,
        method: Health.method.watch,
        protocolName: "test",
        requestMethod: "POST",
        url: "http://test/grpc.health.v1.Health/Watch",
        requestSignal: call.signal,
      });
      const responses = implementation.watch(create(HealthCheckRequestSchema, { service: "" }), context)[Symbol.asyncIterator]();
      assert.deepEqual(await responses.next(), { done: false, value: { status: Status.SERVING } });
      const waiting = responses.next();
      call.abort();
      const outcome = await Promise.race([waiting, delay(1_000).then(() => "still waiting")]);
      assert.deepEqual(outcome, { done: true, value: undefined });
    });

    it("ends a Watch started after close() after its first message", async () => {
      const health = createHealthService();
      health.close();
      const watch = watcher(inMemory(health).watch({ service: "" }));
      assert.equal(await watch.next(), Status.SERVING);
      assert.equal(await watch.ended(), true);
    });
  });

  // An independent client (grpc-js, the health proto shipped with
  // grpc-health-check) over real sockets, as a load balancer would call it.
  describe("over gRPC with grpc-js", () => {
    interface HealthClient extends grpc.Client {
      check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
      watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
    }

    async function startServer(t: TestContext, health: HealthService): Promise<{ client: HealthClient; listener: OnePortListener }> {
      const listener = createOnePortListener({ handler: connectNodeAdapter({ routes: (router) => health.register(router) }) });
      const { port } = await listener.listen(0, "127.0.0.1");
      const definition = protoLoader.loadSync(
        fileURLToPath(import.meta.resolve("grpc-health-check/proto/health/v1/health.proto")),
        { enums: String },
      );
      const loaded = grpc.loadPackageDefinition(definition) as unknown as {
        grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
      };
      const client = new loaded.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      t.after(async () => {
        client.close();
        health.close();
        await listener.close(1_000);
        assert.equal(listener.openConnections(), 0, "a connection outlived close()");
      });
      return { client, listener };
    }

    function check(client: HealthClient, service: string): Promise<string> {
      return new Promise((resolve, reject) =>
        client.check({ service }, (error, response) => (error ? reject(error) : resolve(response?.status ?? ""))),
      );
    }

    it("answers Check with the status, and NOT_FOUND for an unknown service", async (t) => {
      const health = createHealthService();
      const { client } = await startServer(t, health);
      health.setStatus(usageService, Status.SERVING);
      assert.equal(await check(client, ""), "SERVING");
      assert.equal(await check(client, usageService), "SERVING");
      await assert.rejects(check(client, "billing.v1.NoSuchService"), { code: grpc.status.NOT_FOUND });
      health.setAllNotServing();
      assert.equal(await check(client, ""), "NOT_SERVING");
    });

    it("streams Watch updates and ends the call with OK on close()", async (t) => {
      const health = createHealthService();
      const { client } = await startServer(t, health);
      const call = client.watch({ service: "" });
      const statuses: string[] = [];
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => {});
      const nextStatus = () => new Promise<string>((resolve) => call.once("data", (message: { status: string }) => resolve(message.status)));

      statuses.push(await nextStatus());
      const changed = nextStatus();
      health.setStatus("", Status.NOT_SERVING);
      statuses.push(await changed);
      health.close();

      assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"]);
      assert.equal((await ended).code, grpc.status.OK);
    });

    it("stops watching when the client cancels", async (t) => {
      const health = createHealthService();
      const { client, listener } = await startServer(t, health);
      const call = client.watch({ service: "" });
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      call.on("error", () => {});
      await new Promise((resolve) => call.once("data", resolve));
      call.cancel();
      assert.equal((await ended).code, grpc.status.CANCELLED);
      client.close();
      await listener.close(1_000);
    });
  });
});
