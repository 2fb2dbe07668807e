/**
 * What `next` answers for `request`, always as a promise: a next interceptor
 * or handler that throws instead of rejecting becomes a rejection, so an
 * interceptor that reacts to the answer (rather than awaiting it in an async
 * function) sees every failure.
 */
export function answerOf<Request, Response>(next: (request: Request) => Promise<Response>, request: Request): Promise<Response> {
  try {
    return next(request);
  } catch (error) {
    return Promise.reject(error);
  }
}
