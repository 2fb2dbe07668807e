/**
 * A seeded source of randomness, so that `--seed` replays a run's mix of
 * customers, meters, quantities and event kinds. Its numbers only ever pick
 * among choices; quantities are built from the integers it returns, never from
 * a float.
 */
export interface Random {
  /** A number in [0, 1). */
  fraction(): number;
  /** An integer in [0, bound). */
  below(bound: number): number;
  /** One of `choices`, each as likely. */
  pick<T>(choices: readonly T[]): T;
}

/**
 * A Weyl sequence mixed by the MurmurHash3 finalizer: 32 bits of state, fast,
 * and more than random enough to choose events; not for anything secret.
 */
export function createRandom(seed: string): Random {
  let state = hashSeed(seed);
  const fraction = () => {
    state = (state + 0x9e3779b9) | 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    mixed ^= mixed >>> 16;
    return (mixed >>> 0) / 2 ** 32;
  };
  const below = (bound: number) => Math.floor(fraction() * bound);
  return {
    fraction,
    below,
    pick<T>(choices: readonly T[]): T {
      if (choices.length === 0) throw new RangeError("nothing to pick from");
      return choices[below(choices.length)]!;
    },
  };
}

/** FNV-1a over the seed's UTF-16 code units: any text is a seed. */
function hashSeed(seed: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < seed.length; index++) {
    hash = Math.imul(hash ^ seed.charCodeAt(index), 0x01000193);
  }
  return hash | 0;
}
