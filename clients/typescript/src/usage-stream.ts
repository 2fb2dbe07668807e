import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type {
  BatchRecordUsageResult,
  RecordUsageRequestSchema,
  StreamUsageRequestSchema,
  UsageRecordView,
  UsageService,
} from "../../../gen/ts/billing/v1/usage_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type AsyncQueue, createAsyncQueue } from "./async-queue.js";

interface PendingBatch {
  resolve(results: BatchRecordUsageResult[]): void;
  reject(error: ConnectError): void;
}

/**
 * One StreamUsage stream shared by a producer's batches: `send` writes a
 * batch and resolves with its results when the server answers that batch's
 * sequence (once durable). When the stream fails, every batch waiting on it
 * fails with the stream's error, and the next `send` opens a new stream;
 * resending a batch is safe because every event keeps its request_id.
 */
export function createUsageStream(usage: Client<typeof UsageService>) {
  let requests: AsyncQueue<MessageInitShape<typeof StreamUsageRequestSchema>> | undefined;
  const pending = new Map<bigint, PendingBatch>();
  let nextSequence = 0n;

  function failAll(error: ConnectError): void {
    for (const batch of pending.values()) batch.reject(error);
    pending.clear();
  }

  function open(): AsyncQueue<MessageInitShape<typeof StreamUsageRequestSchema>> {
    const stream = createAsyncQueue<MessageInitShape<typeof StreamUsageRequestSchema>>();
    requests = stream;
    void (async () => {
      try {
        for await (const answer of usage.streamUsage(stream)) {
          const batch = pending.get(answer.sequence);
          pending.delete(answer.sequence);
          batch?.resolve(answer.results);
        }
        if (requests === stream) requests = undefined;
        failAll(new ConnectError("the usage stream ended before answering every batch", Code.Unavailable));
      } catch (error) {
        if (requests === stream) requests = undefined;
        failAll(ConnectError.from(error));
      }
    })();
    return stream;
  }

  return {
    /** Sends one batch on the stream; resolves with one result per event, in order. */
    send(events: MessageInitShape<typeof RecordUsageRequestSchema>[], view: UsageRecordView, timeoutMs: number): Promise<BatchRecordUsageResult[]> {
      const stream = requests ?? open();
      const sequence = nextSequence++;
      return new Promise<BatchRecordUsageResult[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(sequence);
          reject(new ConnectError(`no answer on the usage stream within ${timeoutMs} ms`, Code.DeadlineExceeded));
        }, timeoutMs);
        pending.set(sequence, {
          resolve: (results) => {
            clearTimeout(timer);
            resolve(results);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        // If the stream has failed, the failure rejects this batch with the others.
        stream.push({ sequence, requests: events, view });
      });
    },
    /** Ends the stream once nothing waits on it. */
    close(): void {
      requests?.close();
      requests = undefined;
    },
  };
}
