import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import type { Failure, FailureReason } from "../domain/failure.js";

/** Reasons the server adds to the domain's: refusals of the caller and faults of the moment. */
export type TransportReason =
  | "SHUTTING_DOWN"
  | "STORE_UNAVAILABLE"
  | "INTERNAL"
  | "API_KEY_MISSING"
  | "API_KEY_INVALID"
  | "ROLE_NOT_PERMITTED"
  | "RATE_LIMITED"
  | "STREAM_LIMIT_REACHED"
  | "STREAM_LIFETIME_REACHED"
  | "WATCH_LIMIT_REACHED"
  | "SERVER_BUSY";

/** Every reason the API can return. */
export type ApiReason = FailureReason | TransportReason;

/** The ErrorInfo domain of every Tally error. */
export const ERROR_DOMAIN = "tally.billing.v1";

/**
 * The one table of reasons: each with its status code and what it means. The
 * README's error table is this table.
 */
export const REASONS: Record<ApiReason, { code: Code; meaning: string }> = {
  INVALID_FIELD: { code: Code.InvalidArgument, meaning: "A field is missing, malformed or out of bounds; see the field violations." },
  INVALID_QUANTITY: {
    code: Code.InvalidArgument,
    meaning: "The quantity is not a non-negative decimal string within the meter's precision and 18 integer digits.",
  },
  EVENT_TIME_OUT_OF_RANGE: { code: Code.InvalidArgument, meaning: "event_time is more than 5 minutes ahead of the server clock." },
  INVALID_PAGE_TOKEN: { code: Code.InvalidArgument, meaning: "page_token was not handed out by this listing." },
  INVALID_CURSOR: {
    code: Code.InvalidArgument,
    meaning: "after_cursor was not handed out by this stream (WatchUsage and WatchAlerts cursors are not interchangeable, nor valid on another database).",
  },
  CUSTOMER_NOT_FOUND: { code: Code.NotFound, meaning: "No customer has this id or external_id." },
  METER_NOT_FOUND: { code: Code.NotFound, meaning: "No meter has this key." },
  USAGE_RECORD_NOT_FOUND: { code: Code.NotFound, meaning: "No usage record has this id (or request_id, for VoidUsage)." },
  REQUEST_ID_REUSED: {
    code: Code.AlreadyExists,
    meaning: "The request_id was already used with a different payload; the field violations name the fields that differ.",
  },
  EXTERNAL_ID_TAKEN: { code: Code.AlreadyExists, meaning: "Another customer already has this external_id." },
  METER_KEY_TAKEN: { code: Code.AlreadyExists, meaning: "Another meter already has this key." },
  BILL_FINALIZED: {
    code: Code.FailedPrecondition,
    meaning: "The billing period is finalized (its end plus the grace time has passed); it can no longer change.",
  },
  TOTAL_OVERFLOW: { code: Code.OutOfRange, meaning: "A running total would exceed 20 integer digits; nothing was recorded." },
  BATCH_ABORTED: { code: Code.Aborted, meaning: "Not recorded because another request of the atomic batch was refused." },
  API_KEY_NOT_FOUND: { code: Code.NotFound, meaning: "No API key has this id." },
  INVALID_DECIMAL: {
    code: Code.InvalidArgument,
    meaning:
      "A price's unit_amount, up_to, flat_amount or package_size, or an alert's threshold, is not a non-negative decimal string with at most 30 digits before the point and 12 after.",
  },
  UNKNOWN_FIELD: {
    code: Code.InvalidArgument,
    meaning: "A Connect JSON request has a field its message does not define (a typo?); the field violations name it. Allowed only with --allow-unknown-json-fields.",
  },
  QUOTA_EXCEEDED: {
    code: Code.ResourceExhausted,
    meaning:
      "The tenant already has its most customers, meters, price versions or API keys (--max-customers-per-tenant and the like), or the customer its most alerts (--max-alerts-per-customer); nothing was created. Retrying does not help.",
  },
  DIMENSION_REQUIRED: {
    code: Code.InvalidArgument,
    meaning: "The usage event lacks an attribute its meter aggregates by: one of the meter's dimensions, or a UNIQUE_COUNT meter's unique_attribute. Nothing was recorded.",
  },
  DIMENSION_COMBINATIONS_EXCEEDED: {
    code: Code.ResourceExhausted,
    meaning:
      "The usage event would give its meter more combinations of dimension values with usage for the customer in the period than --max-dimension-combinations allows (each is a bill line); nothing was recorded. Retrying does not help.",
  },
  USAGE_LIMIT_EXCEEDED: {
    code: Code.FailedPrecondition,
    meaning:
      "The event would take the period's aggregated quantity of the meter past the customer's usage limit (SetUsageLimit); the message gives the limit and what is used. Nothing was recorded and the request_id stays free. Retrying does not help until the limit is raised or a new period starts.",
  },
  BILL_REVISION_NOT_FOUND: {
    code: Code.NotFound,
    meaning: "The finalized bill has no such revision (revision 0 asks for the latest); a draft bill has none but 0.",
  },
  CREDIT_CURRENCY_MISMATCH: {
    code: Code.InvalidArgument,
    meaning: "A credit grant's currency_code is not its customer's currency; leave it empty or send the customer's.",
  },
  API_KEY_MISSING: { code: Code.Unauthenticated, meaning: "The call carries no `authorization: Bearer <key>` header." },
  API_KEY_INVALID: { code: Code.Unauthenticated, meaning: "The API key is unknown or revoked." },
  ROLE_NOT_PERMITTED: {
    code: Code.PermissionDenied,
    meaning: "The key's role does not allow this method, or a field of it (correction: true needs an admin key; see the roles table).",
  },
  RATE_LIMITED: {
    code: Code.ResourceExhausted,
    meaning: "The tenant is over its rate limit; retry after the RetryInfo delay (the client library does).",
  },
  STREAM_LIMIT_REACHED: {
    code: Code.ResourceExhausted,
    meaning: "The stream reached its most messages; what was acknowledged is recorded, send the rest on a new stream.",
  },
  STREAM_LIFETIME_REACHED: {
    code: Code.Unavailable,
    meaning: "The stream was open as long as a stream may be (--max-stream-lifetime); what was acknowledged is recorded, open a new one.",
  },
  WATCH_LIMIT_REACHED: {
    code: Code.ResourceExhausted,
    meaning: "The server has --max-watch-streams Watch streams open (health Watch, WatchUsage and WatchAlerts together); retry the watch later.",
  },
  SERVER_BUSY: {
    code: Code.ResourceExhausted,
    meaning:
      "The server holds more answer bytes its clients have not read than --max-buffered-response-bytes; reads and reflection are refused until they drain. Retry after the RetryInfo delay.",
  },
  STORE_UNAVAILABLE: {
    code: Code.Unavailable,
    meaning:
      "The database cannot take the call for now (disk full, locked by another writer, an I/O error, unreachable); it was logged. Retry with the same request_id: it will not be recorded twice.",
  },
  SHUTTING_DOWN: { code: Code.Unavailable, meaning: "The server is shutting down; retry against another instance or later." },
  INTERNAL: { code: Code.Internal, meaning: "An internal fault; it was logged. Retrying with the same request_id is safe." },
};

/**
 * The status for a failure: its code from REASONS, the message, and the
 * standard details (google.rpc.ErrorInfo with the reason, google.rpc.BadRequest
 * with the field violations) that every gRPC and Connect client can read.
 */
export function failureToConnectError(failure: { reason: ApiReason; message: string; fieldViolations: Failure["fieldViolations"] }): ConnectError {
  const details = [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: failure.reason, domain: ERROR_DOMAIN }) },
  ];
  if (failure.fieldViolations.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: failure.fieldViolations }),
    } as never);
  }
  return new ConnectError(failure.message, REASONS[failure.reason].code, undefined, details);
}
