/**
 * Expected failures of the domain, as values. Every reason the API can return
 * is listed here; src/api/failure-status.ts gives each its status code.
 */
export type FailureReason =
  /** Input breaks a rule of the request's shape; see the field violations. */
  | "INVALID_FIELD"
  /** A quantity is not a non-negative decimal the meter accepts. */
  | "INVALID_QUANTITY"
  /** event_time is more than the allowed skew ahead of the server clock. */
  | "EVENT_TIME_OUT_OF_RANGE"
  /** A page_token was not one this server handed out for this listing. */
  | "INVALID_PAGE_TOKEN"
  /** An after_cursor of WatchUsage or WatchAlerts was not one this server handed out for that stream. */
  | "INVALID_CURSOR"
  /** The customer does not exist (by id or external_id). */
  | "CUSTOMER_NOT_FOUND"
  /** The meter does not exist. */
  | "METER_NOT_FOUND"
  /** The usage record does not exist. */
  | "USAGE_RECORD_NOT_FOUND"
  /** The request_id was already used with a different payload. */
  | "REQUEST_ID_REUSED"
  /** Another customer already has this external_id. */
  | "EXTERNAL_ID_TAKEN"
  /** Another meter already has this key. */
  | "METER_KEY_TAKEN"
  /** The billing period is finalized and can no longer change. */
  | "BILL_FINALIZED"
  /** A running total would exceed the largest value Tally stores. */
  | "TOTAL_OVERFLOW"
  /** Another item of an atomic batch was refused, so this one was not recorded. */
  | "BATCH_ABORTED"
  /** No API key has this id. */
  | "API_KEY_NOT_FOUND"
  /** A decimal of a price (unit_amount, up_to) is malformed or has more digits than the bounds allow. */
  | "INVALID_DECIMAL"
  /** A JSON request names a field its message does not have. */
  | "UNKNOWN_FIELD"
  /** The tenant already holds as many of the resource as its quota allows. */
  | "QUOTA_EXCEEDED"
  /** A usage event lacks an attribute its meter aggregates by (a dimension, or the unique attribute). */
  | "DIMENSION_REQUIRED"
  /** A usage event would give its meter more combinations of dimension values in the period than allowed. */
  | "DIMENSION_COMBINATIONS_EXCEEDED"
  /** The event would take the period's aggregated quantity of the meter past the customer's usage limit. */
  | "USAGE_LIMIT_EXCEEDED"
  /** A finalized bill has no such revision (or the period is not finalized, so it has none). */
  | "BILL_REVISION_NOT_FOUND"
  /** A credit grant's currency is not its customer's. */
  | "CREDIT_CURRENCY_MISMATCH";

/** One field at fault, with its path in the request (e.g. "requests[3].quantity"). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Why a request was refused; it recorded nothing. */
export interface Failure {
  reason: FailureReason;
  /** A sentence a person can act on. */
  message: string;
  fieldViolations: FieldViolation[];
}

/** A failure; `field` names the one field at fault, when there is one. */
export function failure(reason: FailureReason, message: string, field?: string): Failure {
  return { reason, message, fieldViolations: field === undefined ? [] : [{ field, description: message }] };
}

/** Whether a use case's result is a failure rather than its value. */
export function isFailure(value: object): value is Failure {
  return "reason" in value && "fieldViolations" in value;
}

/** The value, or the failure thrown as a FailureError for the API's error boundary. */
export function valueOrThrow<T extends object>(value: T | Failure): T {
  if (isFailure(value)) throw new FailureError(value);
  return value;
}

/** The same failure with every field path put under `prefix` (e.g. "requests[3]"). */
export function withFieldPrefix(refusal: Failure, prefix: string): Failure {
  return {
    ...refusal,
    message: `${prefix}: ${refusal.message}`,
    fieldViolations: refusal.fieldViolations.map((violation) => ({
      field: `${prefix}.${violation.field}`,
      description: violation.description,
    })),
  };
}

/**
 * The REQUEST_ID_REUSED failure: the request_id was first used with a payload
 * that differs in `fields` (paths within the request).
 */
export function requestIdReused(requestId: string, fields: string[]): Failure {
  return {
    reason: "REQUEST_ID_REUSED",
    message: `request_id "${requestId}" was already used with a different ${fields.join(", ")}; send a new request_id for a new request`,
    fieldViolations: fields.map((field) => ({ field, description: "differs from the request that first used this request_id" })),
  };
}

/**
 * Thrown only where a failure must cross a boundary that speaks exceptions
 * (an RPC handler); the API's error boundary turns it into a status.
 */
export class FailureError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
    this.name = "FailureError";
  }
}
