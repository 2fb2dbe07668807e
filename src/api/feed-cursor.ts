import { FailureError, failure } from "../domain/failure.js";

/**
 * A stream's cursors as callers see them: opaque strings naming their stream
 * and the store's position, so a cursor of one stream (or anything else) is
 * refused by the other with INVALID_CURSOR instead of resuming it wrongly.
 */
export type FeedStream = "usage" | "alerts";

export function encodeFeedCursor(stream: FeedStream, position: string): string {
  return Buffer.from(`${stream}:${position}`).toString("base64url");
}

/** The store position in `cursor` (null for ""), or INVALID_CURSOR naming after_cursor. */
export function decodeFeedCursor(stream: FeedStream, cursor: string): string | null {
  if (cursor === "") return null;
  if (/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) {
    const decoded = Buffer.from(cursor, "base64url").toString("utf8");
    if (decoded.startsWith(`${stream}:`) && encodeFeedCursor(stream, decoded.slice(stream.length + 1)) === cursor) return decoded.slice(stream.length + 1);
  }
  throw new FailureError(failure("INVALID_CURSOR", `after_cursor is not a cursor this ${stream === "usage" ? "WatchUsage" : "WatchAlerts"} stream handed out`, "after_cursor"));
}
