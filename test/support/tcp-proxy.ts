import { createConnection, createServer, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 for fault tests. It forwards bytes both ways; when
 * armed with cutResponses(n), the next n connections that carry a request are
 * cut: the request reaches the server, the response never reaches the
 * client, and the connection is destroyed `cutDelayMs` later (so the server
 * has acted and the client does not know). A client that waits for the
 * server's HTTP/2 SETTINGS before it sends a call (grpc-js) is cut with
 * cutResponses(n, { afterServerSpeaks: true }): the cut starts at its first
 * bytes after the server's first bytes.
 */
export async function startTcpProxy(target: { host: string; port: number }, cutDelayMs = 150) {
  let upstream = { ...target };
  let cutsLeft = 0;
  let cutsDone = 0;
  let afterServerSpeaks = false;
  let refusing = false;
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    if (refusing) {
      client.destroy();
      return;
    }
    const server = createConnection(upstream);
    sockets.add(server);
    server.once("close", () => sockets.delete(server));
    let blackholed = false;
    let serverSpoke = false;
    client.on("data", (chunk) => {
      if (!blackholed && cutsLeft > 0 && (serverSpoke || !afterServerSpeaks)) {
        cutsLeft--;
        blackholed = true;
        setTimeout(() => {
          cutsDone++;
          client.destroy();
          server.destroy();
        }, cutDelayMs);
      }
      server.write(chunk);
    });
    server.on("data", (chunk) => {
      serverSpoke = true;
      if (!blackholed) client.write(chunk);
    });
    const closeBoth = () => {
      client.destroy();
      server.destroy();
    };
    client.on("error", closeBoth);
    server.on("error", closeBoth);
    client.on("end", () => server.end());
    server.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    /**
     * Cuts the responses of the next `count` connections that send a request;
     * with `afterServerSpeaks`, from a connection's first bytes after the server's.
     */
    cutResponses(count: number, options: { afterServerSpeaks?: boolean } = {}) {
      cutsLeft += count;
      afterServerSpeaks = options.afterServerSpeaks ?? false;
    },
    /** How many connections were cut so far. */
    cuts: () => cutsDone,
    /** Points the proxy at another server (e.g. after a restart). */
    retarget(next: { host: string; port: number }) {
      upstream = { ...next };
    },
    /** Refuses (destroys) new connections while true, like a server that is down. */
    setRefusing(value: boolean) {
      refusing = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
