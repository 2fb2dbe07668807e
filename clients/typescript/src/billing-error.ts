import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";

/** One field at fault, as the server named it (e.g. "requests[3].quantity"). */
export interface BillingFieldViolation {
  field: string;
  description: string;
}

/** What a BillingError is made of. */
export interface BillingErrorInit {
  /** The RPC, e.g. "RecordUsage". */
  method: string;
  code: Code;
  /** The server's UPPER_SNAKE reason, or "" when the server did not say (transport failures). */
  reason: string;
  /** The server's (or the transport's) own words. */
  detail: string;
  fieldViolations: BillingFieldViolation[];
  /** How many attempts were made, the last one included. */
  attempts: number;
  /** Why the client stopped: the failure was final, or it gave up retrying. */
  outcome: "refused" | "gave-up";
  /** Why it gave up, when it did: attempts used up, deadline, budget exhausted. */
  gaveUpBecause?: string;
  /** The request_id the call carried on every attempt, if it is a mutating call. */
  requestId?: string;
  /** The last underlying error. */
  cause?: unknown;
}

/**
 * The one error type of the client library: the status code and reason, the
 * fields at fault, how many attempts were made and why the client stopped, in
 * a message a person can act on.
 */
export class BillingError extends Error {
  readonly method: string;
  readonly code: Code;
  /** The code's name, e.g. "ALREADY_EXISTS". */
  readonly codeName: string;
  readonly reason: string;
  readonly detail: string;
  readonly fieldViolations: BillingFieldViolation[];
  readonly attempts: number;
  readonly outcome: "refused" | "gave-up";
  /** Why the client gave up, when it did. */
  readonly gaveUpBecause: string | undefined;
  readonly requestId: string | undefined;

  constructor(init: BillingErrorInit) {
    super(describe(init), { cause: init.cause });
    this.name = "BillingError";
    this.method = init.method;
    this.code = init.code;
    this.codeName = codeName(init.code);
    this.reason = init.reason;
    this.detail = init.detail;
    this.fieldViolations = init.fieldViolations;
    this.attempts = init.attempts;
    this.outcome = init.outcome;
    this.gaveUpBecause = init.gaveUpBecause;
    this.requestId = init.requestId;
  }

  /** A BillingError from a failed attempt's error, reading the standard error details. */
  static fromCause(cause: unknown, context: Omit<BillingErrorInit, "code" | "reason" | "detail" | "fieldViolations" | "cause">): BillingError {
    const error = ConnectError.from(cause);
    const [info] = error.findDetails(ErrorInfoSchema);
    const [badRequest] = error.findDetails(BadRequestSchema);
    return new BillingError({
      ...context,
      code: error.code,
      reason: info?.reason ?? "",
      detail: error.rawMessage,
      fieldViolations: badRequest?.fieldViolations.map(({ field, description }) => ({ field, description })) ?? [],
      cause,
    });
  }
}

/** "ALREADY_EXISTS" for Code.AlreadyExists. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function describe(init: BillingErrorInit): string {
  const status = [codeName(init.code), init.reason].filter((part) => part !== "").join(" ");
  const attempts = `${init.attempts} attempt${init.attempts === 1 ? "" : "s"}`;
  const fields = init.fieldViolations.length > 0 ? ` Fields: ${init.fieldViolations.map((v) => `${v.field} (${v.description})`).join("; ")}.` : "";
  if (init.outcome === "refused") {
    return `${init.method} was refused with ${status} after ${attempts}: ${init.detail}.${fields} Retrying the same request will not help.`;
  }
  const retryHint = init.requestId === undefined ? "" : ` It is safe to send again with request_id "${init.requestId}": it will not be recorded twice.`;
  return `${init.method} gave up after ${attempts} (${init.gaveUpBecause ?? "no attempts left"}); the last error was ${status}: ${init.detail}.${retryHint}`;
}
