/** Options of the random field values. */
export interface RandomProtoValuesOptions {
  /** Characters of the non-ASCII strings, besides a few ASCII ones. */
  characters: readonly string[];
  /** String lengths to pick from (with repeats to weigh them). */
  lengths: readonly number[];
}

const ASCII = ["a", "Z", "0", "_", "-", " "];

/**
 * Random values for protobuf fields, for tests that compare a hand-written
 * codec with protobuf-es: strings (ASCII only or not), int64 seconds across
 * the whole range, int32 nanos with both extremes, and string maps.
 */
export function randomProtoValues(random: () => number, options: RandomProtoValuesOptions) {
  const chance = (p: number) => random() < p;
  const integer = (max: number) => Math.floor(random() * max);
  const pick = <T>(items: readonly T[]): T => items[integer(items.length)] as T;
  const alphabet = [...ASCII, ...options.characters];

  const text = (): string => {
    const length = pick(options.lengths);
    const characters = chance(0.6) ? ASCII : alphabet;
    let out = "";
    for (let i = 0; i < length; i++) out += pick(characters);
    return out;
  };
  const seconds = (): bigint => {
    switch (integer(5)) {
      case 0:
        return 0n;
      case 1:
        return BigInt(1_700_000_000 + integer(200_000_000));
      case 2:
        return -BigInt(integer(2 ** 31));
      case 3:
        return BigInt.asIntN(64, (BigInt(integer(2 ** 32)) << 32n) | BigInt(integer(2 ** 32)));
      default:
        return BigInt(integer(2 ** 53)) * (chance(0.5) ? 1n : -1n);
    }
  };
  const nanos = (): number => pick([0, integer(1_000_000_000), -integer(1_000_000_000), 2 ** 31 - 1, -(2 ** 31)]);
  const attributes = (): Record<string, string> => {
    const map: Record<string, string> = {};
    const count = pick([0, 0, 0, 1, 2, 5]);
    for (let i = 0; i < count; i++) map[chance(0.2) ? String(integer(100)) : text()] = text();
    return map;
  };

  return { chance, integer, text, seconds, nanos, attributes };
}

/** int64 seconds at every varint length boundary, the double-precision edges and the ends of the range. */
export const EDGE_SECONDS: readonly bigint[] = [
  0n, 1n, -1n, 127n, 128n, -128n,
  2n ** 28n - 1n, 2n ** 28n, 2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n, -(2n ** 32n),
  2n ** 35n - 1n, 2n ** 35n, 2n ** 49n,
  2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), -(2n ** 53n) - 1n,
  2n ** 56n - 1n, 2n ** 56n, 2n ** 63n - 1n, -(2n ** 63n),
  253_402_300_799n, -62_135_596_800n,
];

/** int32 nanos at varint length boundaries and both ends, negative zero included. */
export const EDGE_NANOS: readonly number[] = [0, 1, -1, 127, 128, 2 ** 28 - 1, 2 ** 28, 999_999_999, -999_999_999, 2 ** 31 - 1, -(2 ** 31), -0];
