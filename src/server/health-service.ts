import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { createWatchStreams, type WatchStreams } from "../api/watch-streams.js";
import { SERVE_DEFAULTS } from "../config.js";

/** The serving status a service reports, as grpc.health.v1 defines it. */
export type ServingStatus = HealthCheckResponse_ServingStatus;

/** How the health service starts out. */
export interface HealthServiceOptions {
  /**
   * Status of the whole server (service name "") until setStatus changes it.
   * Default: SERVING, since a server that can answer Check is up; pass
   * NOT_SERVING to hold load balancers off until startup work is done.
   */
  serverStatus?: ServingStatus;
  /**
   * The server's watch streams, whose limit Watch calls count against: each
   * holds a stream, and health needs no key, so anyone could open them by the
   * thousand. One more is refused with RESOURCE_EXHAUSTED /
   * WATCH_LIMIT_REACHED. Default: a limit of --max-watch-streams's default,
   * for health alone.
   */
  watches?: WatchStreams;
}

/**
 * gRPC health checking (grpc.health.v1.Health) backed by statuses the server
 * sets, so load balancers, Kubernetes gRPC probes and grpc-health-probe can
 * tell whether to send traffic, and learn of shutdown before connections close.
 */
export interface HealthService {
  /** Adds grpc.health.v1.Health (Check, Watch and List) to the router. */
  register(router: ConnectRouter): void;
  /**
   * Sets the status of a service by its fully-qualified name, or of the whole
   * server with "". Watchers of that name are told at once. Ignored after
   * setAllNotServing(), so late startup work cannot mark a draining server
   * healthy again.
   */
  setStatus(service: string, status: ServingStatus): void;
  /**
   * Marks the server and every known service NOT_SERVING for good: the first
   * step of a graceful shutdown, so clients move away while calls in flight
   * still finish.
   */
  setAllNotServing(): void;
  /**
   * Ends every open Watch call with OK (clients then retry with backoff, as
   * the health protocol asks), and makes later Watch calls end after their
   * first message: a watch otherwise never ends and would hold up a graceful
   * shutdown until its grace period runs out. Check and List keep working.
   */
  close(): void;
}

/** Creates a health service in which only the whole server ("") is known. */
export function createHealthService(options: HealthServiceOptions = {}): HealthService {
  const statuses = new Map<string, ServingStatus>([["", options.serverStatus ?? HealthCheckResponse_ServingStatus.SERVING]]);
  const wakeWatchers = new Set<() => void>();
  const watches = options.watches ?? createWatchStreams(SERVE_DEFAULTS.maxWatchStreams);
  let frozen = false;
  let closed = false;

  const wakeAll = () => {
    for (const wake of wakeWatchers) {
      wake();
    }
    wakeWatchers.clear();
  };

  // Resolves on the next status change, close() or the end of the call,
  // whichever comes first; the caller re-reads the state either way.
  const nextChange = (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        signal.removeEventListener("abort", wake);
        wakeWatchers.delete(wake);
        resolve();
      };
      wakeWatchers.add(wake);
      signal.addEventListener("abort", wake);
    });

  const statusOf = (service: string) => statuses.get(service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;

  async function* watch(service: string, context: HandlerContext) {
    const slot = watches.open(context.signal, "use Check, or watch again later");
    try {
      let sent: ServingStatus | undefined;
      for (;;) {
        const status = statusOf(service);
        if (status !== sent) {
          sent = status;
          yield { status };
          // The status may have changed while the message was on its way.
          continue;
        }
        if (closed || context.signal.aborted) {
          return;
        }
        await nextChange(context.signal);
      }
    } finally {
      slot.release();
    }
  }

  return {
    register(router) {
      router.service(Health, {
        check({ service }) {
          const status = statuses.get(service);
          if (status === undefined) {
            throw new ConnectError(`unknown service ${service}`, Code.NotFound);
          }
          return { status };
        },
        watch({ service }, context) {
          return watch(service, context);
        },
        list() {
          return {
            statuses: Object.fromEntries([...statuses].map(([service, status]) => [service, { status }])),
          };
        },
      });
    },

    setStatus(service, status) {
      if (frozen || statuses.get(service) === status) {
        return;
      }
      statuses.set(service, status);
      wakeAll();
    },

    setAllNotServing() {
      frozen = true;
      for (const service of statuses.keys()) {
        statuses.set(service, HealthCheckResponse_ServingStatus.NOT_SERVING);
      }
      wakeAll();
    },

    close() {
      closed = true;
      wakeAll();
    },
  };
}
