import type {
  ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecordInput, StreamInfo,
} from '../../src/ports/event-log.ts';
import type {
  ActiveUsers, ActivityInterval, ElementStats, EventRow, FilmMetric, FilmReport, FilmStats, SeriesBucket, SeriesInterval, StoredEvent,
  Summary, TimeRange, Warehouse,
} from '../../src/ports/warehouse.ts';

/**
 * Ports that hand every call to a real adapter. Fault injection (`faults.ts`) and the ETL
 * benchmark's timers (`bench/lib/timed.ts`) extend them and override only what they change.
 */
export class DelegatingWarehouse implements Warehouse {
  protected readonly real: Warehouse;

  constructor(real: Warehouse) {
    this.real = real;
  }

  get kind(): string {
    return this.real.kind;
  }

  start(): Promise<void> {
    return this.real.start();
  }

  close(): Promise<void> {
    return this.real.close();
  }

  ping(): Promise<void> {
    return this.real.ping();
  }

  migrate(): Promise<number[]> {
    return this.real.migrate();
  }

  insertEvents(rows: readonly EventRow[]): Promise<void> {
    return this.real.insertEvents(rows);
  }

  summary(range: TimeRange): Promise<Summary> {
    return this.real.summary(range);
  }

  topFilms(range: TimeRange, metric: FilmMetric, limit: number): Promise<FilmStats[]> {
    return this.real.topFilms(range, metric, limit);
  }

  userEvents(userId: string, range: TimeRange, limit: number): Promise<StoredEvent[]> {
    return this.real.userEvents(userId, range, limit);
  }

  eventSeries(range: TimeRange, interval: SeriesInterval, tz: string): Promise<SeriesBucket[]> {
    return this.real.eventSeries(range, interval, tz);
  }

  activeUsers(range: TimeRange, interval: ActivityInterval, tz: string): Promise<ActiveUsers[]> {
    return this.real.activeUsers(range, interval, tz);
  }

  filmReport(filmId: string, range: TimeRange): Promise<FilmReport> {
    return this.real.filmReport(filmId, range);
  }

  topElements(range: TimeRange, options: { type: string; kind: string | undefined; limit: number }): Promise<ElementStats[]> {
    return this.real.topElements(range, options);
  }
}

export class DelegatingEventLog implements EventLog {
  protected readonly real: EventLog;

  constructor(real: EventLog) {
    this.real = real;
  }

  get kind(): string {
    return this.real.kind;
  }

  start(): Promise<void> {
    return this.real.start();
  }

  close(): Promise<void> {
    return this.real.close();
  }

  ping(): Promise<void> {
    return this.real.ping();
  }

  append(stream: string, records: LogRecordInput[]): Promise<void> {
    return this.real.append(stream, records);
  }

  createStream(name: string, options?: CreateStreamOptions): Promise<void> {
    return this.real.createStream(name, options);
  }

  ensureStream(name: string, options?: CreateStreamOptions): Promise<void> {
    return this.real.ensureStream(name, options);
  }

  deleteStream(name: string): Promise<void> {
    return this.real.deleteStream(name);
  }

  listStreams(): Promise<StreamInfo[]> {
    return this.real.listStreams();
  }

  consumer(options: ConsumerOptions): EventLogConsumer {
    return this.real.consumer(options);
  }
}
