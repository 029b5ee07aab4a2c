import { ValidationError } from '../domain/errors.ts';
import { type EventInput, normalizeEvents } from '../domain/events.ts';
import type { EventLog } from '../ports/event-log.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * Ingestion: check the rules the schema cannot express, correct client clocks, and append the
 * whole request to the events stream keyed by user id (a user's events stay in order). The
 * caller acknowledges only after `append` resolved, i.e. once the events are durable.
 */
export class EventsService {
  #log: EventLog;
  #topic: string;
  #metrics: Metrics;

  constructor(deps: { log: EventLog; metrics: Metrics }, topic: string) {
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#topic = topic;
  }

  async ingest(userId: string, body: { batch: false; event: EventInput } | { batch: true; sent_at?: string | undefined; events: EventInput[] }): Promise<number> {
    const inputs = body.batch ? body.events : [body.event];
    const result = normalizeEvents(inputs, {
      userId,
      receivedAt: new Date(),
      sentAt: body.batch ? body.sent_at : undefined,
      pathOf: (i) => (body.batch ? `/events/${i}` : ''),
    });
    if (!result.ok) {
      throw new ValidationError(result.errors, 'One or more events are invalid; none were accepted.');
    }
    const key = userId;
    const endTimer = this.#metrics.produceLatency.startTimer();
    await this.#log.append(
      this.#topic,
      result.messages.map((m) => ({ key, value: Buffer.from(JSON.stringify(m)) })),
    );
    endTimer();
    this.#metrics.eventsAccepted.inc(result.messages.length);
    return result.messages.length;
  }
}
