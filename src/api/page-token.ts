import { FailureError, failure } from "../domain/failure.js";

/**
 * Opaque page tokens: the listing's name and its resume position, so a token
 * of one listing is refused by another instead of paging it wrongly.
 */
export function encodePageToken(listing: string, position: string | null): string {
  return position === null ? "" : Buffer.from(JSON.stringify([listing, position])).toString("base64url");
}

/** The position in `token` (null for ""), or INVALID_PAGE_TOKEN. */
export function decodePageToken(listing: string, token: string): string | null {
  if (token === "") return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(decoded) && decoded.length === 2 && decoded[0] === listing && typeof decoded[1] === "string") {
      return decoded[1];
    }
  } catch {
    // Falls through to the refusal below.
  }
  throw new FailureError(failure("INVALID_PAGE_TOKEN", `page_token is not one this ${listing} listing handed out`, "page_token"));
}
