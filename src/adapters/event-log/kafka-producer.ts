import { ProduceAcks, Producer } from '@platformatic/kafka';

/**
 * The event log's producer: idempotent, `acks=all`, zstd, with deadlines that fit the API's
 * `timeoutMs` (ms) instead of the client's defaults (30 s per request, 5 s metadata age).
 */
export function newProducer(options: { clientId: string; brokers: string[]; timeoutMs: number }): Producer<Buffer, Buffer, Buffer, Buffer> {
  const { clientId, brokers, timeoutMs } = options;
  return new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId,
    bootstrapBrokers: brokers,
    timeout: timeoutMs,
    // The broker answers a produce by `timeout` (acks=all included); a connection silent a second
    // longer is dead (paused broker) and is dropped instead of waiting the client's default 30 s.
    requestTimeout: timeoutMs + 1000,
    connectTimeout: timeoutMs,
    // Retries within the client are bounded (an idempotent producer with retries <= 1 would
    // retry forever); what is still unsent at the append's deadline is dropped by AppendQueue.
    retries: 2,
    retryDelay: 100,
    // Leaders move when a broker fails: look again every second, not every 5 s.
    metadataMaxAge: 1000,
    idempotent: true,
    acks: ProduceAcks.ALL,
    // zstd: the best ratio per CPU for JSON events, built into Node's zlib.
    compression: 'zstd',
    autocreateTopics: false,
  });
}
