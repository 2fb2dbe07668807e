import { createConnection, createServer, type Socket } from "node:net";

/**
 * A round-robin TCP load balancer on 127.0.0.1: each new connection goes to
 * the next upstream port in turn and stays there (HTTP/2 callers keep their
 * connection, as behind any L4 balancer). It runs in the benchmark's own
 * process, so its CPU shows as "other" in the notes, not as Tally's.
 */
export async function startTcpBalancer(upstreamPorts: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: upstreamPorts[next++ % upstreamPorts.length]! });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
    client.once("close", closeBoth);
    upstream.once("close", closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
