import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { BillingError } from "../../clients/typescript/src/node.js";
import type { RecordUsageRequestSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import type { SimulatedEvent } from "./event-plan.js";
import { codeName, type Refusal } from "./observations.js";

/** The RecordUsageRequest of an event; every send of it (duplicates, re-sends) is this same request. */
export function usageRequest(event: SimulatedEvent): MessageInitShape<typeof RecordUsageRequestSchema> & { quantity: string } {
  return {
    requestId: event.requestId,
    customerId: event.customerId,
    meterKey: event.meterKey,
    quantity: event.quantity,
    eventTime: event.eventTimeMs === undefined ? undefined : timestampFromMs(event.eventTimeMs),
    attributes: event.attributes,
  };
}

/**
 * What a failed call says about its event: a refusal when the server judged
 * it (the client's "refused" outcome), otherwise a failure whose outcome is
 * unknown (the client gave up, or the transport broke).
 */
export function failureOutcome(error: unknown): { refusal: Refusal } | { failed: string } {
  if (error instanceof BillingError) {
    if (error.outcome === "refused") return { refusal: { code: error.codeName, reason: error.reason || error.codeName } };
    return { failed: error.codeName };
  }
  return { failed: codeName(ConnectError.from(error).code) };
}
