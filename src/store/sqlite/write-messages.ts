import type { Customer } from "../../domain/customer.js";
import type { Failure } from "../../domain/failure.js";
import type { Meter } from "../../domain/meter.js";
import type { Scope } from "../../domain/store.js";
import type { Row } from "../store-rows.js";

/**
 * What crosses between the store and its writer thread, as JSON: decimals
 * travel as their text, records as rows, usage events as arrays (below), and
 * a recorded event comes back as `null` (the store already holds the record
 * it sent), so a 1000-event batch answers with little more than 1000 nulls.
 */

/** A usage event to write; `quantity` is the decimal's text. */
export interface UsageEventMessage {
  id: string;
  requestId: string;
  customerId: string;
  meterKey: string;
  quantity: string;
  eventTime: number;
  requestedEventTime: number | null;
  createTime: number;
  period: string;
  /** The attributes as the JSON stored in the row. */
  attributes: string;
  /** The refusal this event gets if its request_id is new. */
  refusal?: Failure;
}

/**
 * A UsageEventMessage as it travels: its fields in a fixed order. Field names
 * are most of an event's JSON, and an array of values takes about half the
 * time of an object to stringify and to parse.
 */
export type UsageEventTuple = [
  id: string,
  requestId: string,
  customerId: string,
  meterKey: string,
  quantity: string,
  eventTime: number,
  requestedEventTime: number | null,
  createTime: number,
  period: string,
  attributes: string,
  refusal?: Failure,
];

/** The event a tuple carries. */
export function usageEventOf(tuple: UsageEventTuple): UsageEventMessage {
  const event: UsageEventMessage = {
    id: tuple[0],
    requestId: tuple[1],
    customerId: tuple[2],
    meterKey: tuple[3],
    quantity: tuple[4],
    eventTime: tuple[5],
    requestedEventTime: tuple[6],
    createTime: tuple[7],
    period: tuple[8],
    attributes: tuple[9],
  };
  if (tuple[10] !== undefined) event.refusal = tuple[10];
  return event;
}

/** One write: what one Store method asked for. */
export type WriteOp =
  | { kind: "usage"; scope: Scope; atomic: boolean; events: UsageEventTuple[] }
  | { kind: "void"; scope: Scope; recordId: string; reason: string; voidTime: number }
  /** Creates carry the tenant's quota of the resource (`limit`), checked in the write's transaction. */
  | { kind: "customer"; scope: Scope; requestId: string; customer: Customer; limit: number }
  | { kind: "meter"; scope: Scope; requestId: string; meter: Meter; limit: number }
  /** Answered with null, or "over-quota". */
  | {
      kind: "api-key";
      key: { id: string; tenant: string; role: string; name: string; createTime: number; revokeTime: number | null; secretHash: string };
      limit: number;
    }
  /** Answered with the key's row after the revocation, or null when no key has the id. */
  | { kind: "revoke-api-key"; id: string; revokeTime: number }
  | {
      kind: "price";
      scope: Scope;
      requestId: string;
      price: {
        id: string;
        meterKey: string;
        currencyCode: string;
        effectivePeriod: string;
        model: string;
        tiers: string;
        packageSize: string | null;
        /** priceDimensionKeyOf(dimension_values). */
        dimensionKey: string;
        /** The customer's Tally id; "" for a catalog price. */
        customerId: string;
        createTime: number;
      };
      limit: number;
    }
  /** Sets (limit "" removes) a usage limit; answered with a CreateReply: "exists" carries what the request_id set. */
  | { kind: "usage-limit"; scope: Scope; requestId: string; customerId: string; meterKey: string; limit: string; updateTime: number }
  | AlertWriteOp
  | CreditsWriteOp;

/** Creates an alert unless its customer holds `limit` alerts already (answered with a CreateReply). */
export interface AlertWriteOp {
  kind: "alert";
  scope: Scope;
  requestId: string;
  alert: { id: string; customerId: string; meterKey: string; threshold: string; createTime: number };
  limit: number;
}

// ---- Credits and bill revisions (issue 19) ----

/** A stored bill revision as it travels: the bill's document (src/domain/bill-revisions.ts) and its columns. */
export interface RevisionMessage {
  customerId: string;
  period: string;
  revision: number;
  total: string;
  creditsApplied: string;
  amountDue: string;
  document: string;
  createTime: number;
}

/** The writes of credits and bill revisions. */
export type CreditsWriteOp =
  /** Answered with a CreateReply ("exists" with the row, or "created"). */
  | {
      kind: "credit-grant";
      scope: Scope;
      requestId: string;
      grant: { id: string; customerId: string; amount: string; currencyCode: string; expireTime: number | null; reason: string; createTime: number };
    }
  /** Revision 1, its credits allocated in the write; answered with the stored revision's row (the one written, or the one already there). */
  | { kind: "finalize-bill"; scope: Scope; currencyCode: string; revision: RevisionMessage }
  /** A correction and the period's next revision, pending (unless one is pending already); answered with a CorrectionReply. */
  | {
      kind: "correction";
      scope: Scope;
      customerId: string;
      period: string;
      createTime: number;
      event?: UsageEventTuple;
      void?: { recordId: string; reason: string; voidTime: number };
    }
  /** Writes a pending revision's bill (unless it is written already); answered with null. */
  | { kind: "write-revision"; scope: Scope; revision: RevisionMessage };

/**
 * What a correction did: nothing (a revision was "pending"), or the event's
 * or the void's own reply and the revision it added (0 when it recorded nothing).
 */
export type CorrectionReply =
  | { kind: "pending"; revision: number }
  | { kind: "event"; reply: UsageEventReply; revision: number }
  | { kind: "void"; reply: VoidReply; revision: number };

/** One event's outcome: null = recorded as sent; "aborted" = rolled back with its atomic write. */
export type UsageEventReply = null | "aborted" | { replayed: Row } | { refused: Failure };

/** What a create found or did: the existing row of the request_id, the unique field taken, the quota full, or created. */
export type CreateReply = { kind: "exists"; row: Row } | { kind: "taken" } | { kind: "over-quota" } | { kind: "created"; row?: Row };

/** What a void did, with the record's row as it was before. */
export type VoidReply = { kind: "voided" | "already-voided"; row: Row };

export type WriteReplyValue = UsageEventReply[] | CreateReply | VoidReply | CorrectionReply | Row | "over-quota" | null;

/** The answer to one write, sent only once its transaction is durable (or has failed). */
export type WriteReply = { ok: true; value: WriteReplyValue } | { ok: false; error: WriteError };

/** A write's error as it crosses the thread: SQLite's `code` (SQLITE_FULL, ...) travels with it, for storage faults. */
export interface WriteError {
  message: string;
  code?: string;
  stack?: string;
}

/**
 * Store → writer thread. The writes travel as one JSON string (`WriteOp[]`):
 * JSON.stringify on the event loop is several times cheaper than the
 * structured clone of the same objects, and the parsing happens on the
 * writer thread.
 */
export type ToWriter = { type: "writes"; ids: number[]; ops: string } | { type: "close" };

/**
 * Writer thread → store; the replies are JSON (`WriteReply[]`), mostly
 * nulls. `groups`: each committed transaction's writes and seconds (fsync
 * included), for metrics.
 */
export type FromWriter = { type: "replies"; ids: number[]; replies: string; groups: [writes: number, seconds: number][] };
