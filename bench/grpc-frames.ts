/**
 * The little of the gRPC wire format the load generator and the echo server
 * need, written by hand so that neither pays for a framework per call: the
 * 5-byte message prefix, a reader that splits a byte stream into messages,
 * and a scan of batch answers that counts refused items without decoding
 * every record.
 */

/** A gRPC message on the wire: flags byte 0 (uncompressed), 4-byte big-endian length, the bytes. */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

/**
 * Splits the bytes of a gRPC stream into whole messages, however the chunks
 * were cut. Calls `onMessage` with each message's bytes (a view into the
 * buffered data, valid only during the call).
 */
export function createFrameReader(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= 5) {
      const length = pending.readUInt32BE(offset + 1);
      if (pending.length - offset - 5 < length) break;
      onMessage(pending.subarray(offset + 5, offset + 5 + length));
      offset += 5 + length;
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  };
}

/** What a batch answer said: how many items were recorded and how many refused. */
export interface BatchTally {
  recorded: number;
  refused: number;
  /** The int64 field 1 of a StreamUsageResponse (its sequence); 0, the proto3 default, when absent. */
  sequence: number;
}

/**
 * Counts the results of a BatchRecordUsageResponse (results = field 1) or a
 * StreamUsageResponse (sequence = field 1, results = field 2). A result whose
 * first field is 1 (`response`) was recorded or replayed; anything else
 * (`error`, or an empty result) counts as refused.
 */
export function tallyBatchResults(message: Uint8Array, resultsField: 1 | 2): BatchTally {
  const tally: BatchTally = { recorded: 0, refused: 0, sequence: 0 };
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = message[offset++];
      if (byte === undefined) throw new Error("truncated varint in a batch answer");
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (offset < message.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 0) {
      const value = varint();
      if (field === 1 && resultsField === 2) tally.sequence = value;
    } else if (wireType === 2) {
      const length = varint();
      if (field === resultsField) {
        const firstTag = length > 0 ? message[offset] : undefined;
        if (firstTag !== undefined && firstTag >> 3 === 1) tally.recorded++;
        else tally.refused++;
      }
      offset += length;
    } else if (wireType === 1) {
      offset += 8;
    } else if (wireType === 5) {
      offset += 4;
    } else {
      throw new Error(`unexpected wire type ${wireType} in a batch answer`);
    }
  }
  return tally;
}

/** A protobuf varint field (tag `field`, wire type 0) carrying `value`, for appending to an encoded message. */
export function varintField(field: number, value: number): Buffer {
  const bytes = [field << 3];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
