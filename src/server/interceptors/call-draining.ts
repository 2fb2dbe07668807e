import type { Interceptor } from "@connectrpc/connect";
import { Health } from "../../../gen/ts/health/v1/health_pb.js";
import { answerOf } from "./call-answer.js";
import { failureToConnectError } from "../../api/failure-status.js";

const HEALTH_SERVICE = Health.typeName;

/**
 * Counts unary calls in flight and, once draining starts, refuses new ones
 * with UNAVAILABLE (reason SHUTTING_DOWN) so clients retry elsewhere while the
 * calls already running finish. Health checks still answer during the drain,
 * so a load balancer's probe reads NOT_SERVING rather than an error.
 */
export function createCallDraining() {
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | undefined;

  function callEnded(): void {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  }

  // Not an async function: a unary call is counted out by a reaction on its
  // own answer, without a promise of the interceptor's.
  const interceptor: Interceptor = (next) => (request) => {
    if (draining && request.service.typeName !== HEALTH_SERVICE) {
      return Promise.reject(failureToConnectError({ reason: "SHUTTING_DOWN", message: "the server is shutting down; retry", fieldViolations: [] }));
    }
    if (request.stream) return next(request);
    inFlight++;
    const answer = answerOf(next, request);
    answer.then(callEnded, callEnded);
    return answer;
  };

  return {
    interceptor,
    /** Refuses new calls from now on; resolves when the running ones finished or `graceMs` passed. */
    drain(graceMs: number): Promise<void> {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
