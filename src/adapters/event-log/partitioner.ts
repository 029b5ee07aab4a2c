/**
 * Kafka's default partitioner for keyed records, bit for bit as the Java client computes it
 * (`Utils.murmur2` + `Utils.toPositive`), so the embedded log and a Kafka cluster with the same
 * partition count put one user's events in the same partition.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** MurmurHash2 as in `org.apache.kafka.common.utils.Utils.murmur2`: a signed 32-bit result. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k =
      (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Java's switch falls through from 3 to 1; the compiler forbids fallthrough, hence the ifs.
  const rest = length % 4;
  if (rest >= 3) h ^= (data[tail + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (data[tail + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= data[tail] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka masks the sign bit rather than taking `Math.abs`, which would overflow on MIN_VALUE. */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's producer picks for a non-null key serialized with `StringSerializer`. */
export function partitionForKey(key: string, partitions: number): number {
  return toPositive(murmur2(Buffer.from(key, 'utf8'))) % partitions;
}
