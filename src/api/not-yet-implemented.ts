import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The answer of a method the contract already names but whose work has not
 * landed yet: UNIMPLEMENTED, never a silent success. Removed with the last
 * such method.
 */
export function notYetImplemented(): never {
  throw new ConnectError("this method is in the contract but not implemented yet", Code.Unimplemented);
}
