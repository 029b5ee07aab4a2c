/**
 * The one place that knows which ClickHouse we talk to. The same SQL runs on chDB 26.x and on
 * the ClickHouse server packaged here (18.16); only column types and time expressions differ,
 * chosen from `SELECT version()`.
 */
export interface Dialect {
  /**
   * Millisecond timestamps: DateTime64(3) where it exists; 18.x has only whole-second DateTime,
   * so there a timestamp is a UInt64 of epoch milliseconds (exact, sortable, comparable).
   */
  timestamp: string;
  /** LowCardinality for short repeated strings where it is production-ready (19.x+). */
  lowCardinality: (type: string) => string;
  /** A column value for JSONEachRow from an ISO time. */
  timeValue: (iso: string) => string | number;
  /** A SQL literal of a time. */
  timeLiteral: (t: Date) => string;
  /** The value a query returns for a timestamp column, as ISO 8601 UTC with ms. */
  readTime: (value: string | number) => string;
  /** SQL expressions of the month and the day of a timestamp column (partitioning, ordering). */
  month: (column: string) => string;
  day: (column: string) => string;
  /** SQL expression of a timestamp column as a whole-second `DateTime('UTC')`. */
  seconds: (column: string) => string;
  /** Skip index on film_id for per-film lookups (bloom_filter needs 19.x+). */
  filmIndex: string | null;
}

export function parseVersion(version: string): [number, number] {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  return [major, minor];
}

export function dialectFor(version: string): Dialect {
  const [major] = parseVersion(version);
  // DateTime64 and a stable LowCardinality both arrived during 19.x/20.x; 20.1 is the first
  // release line with both generally available.
  return major >= 20 ? modern : legacy;
}

const modern: Dialect = {
  timestamp: "DateTime64(3, 'UTC')",
  lowCardinality: (type) => `LowCardinality(${type})`,
  timeValue: (iso) => clickhouseTime(iso),
  timeLiteral: (t) => `toDateTime64('${clickhouseTime(t.toISOString())}', 3, 'UTC')`,
  readTime: (value) => isoTime(String(value)),
  month: (column) => `toYYYYMM(${column})`,
  day: (column) => `toDate(${column})`,
  seconds: (column) => `toDateTime(${column}, 'UTC')`,
  filmIndex: 'INDEX film_idx film_id TYPE bloom_filter GRANULARITY 4',
};

const legacy: Dialect = {
  timestamp: 'UInt64',
  lowCardinality: (type) => type,
  timeValue: (iso) => Date.parse(iso),
  timeLiteral: (t) => String(t.getTime()),
  readTime: (value) => new Date(Number(value)).toISOString(),
  month: (column) => `toYYYYMM(toDateTime(intDiv(${column}, 1000), 'UTC'))`,
  day: (column) => `toDate(toDateTime(intDiv(${column}, 1000), 'UTC'))`,
  seconds: (column) => `toDateTime(intDiv(${column}, 1000), 'UTC')`,
  filmIndex: null,
};

/** `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05.678`, the text form DateTime64 parses. */
export function clickhouseTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** `2026-01-02 03:04:05.678` → ISO 8601 UTC with milliseconds. */
export function isoTime(text: string): string {
  const [date = '', time = ''] = text.split(' ');
  return `${date}T${time.padEnd(12, time.length === 8 ? '.000' : '0').slice(0, 12)}Z`;
}

/** ClickHouse string literal; request values never reach SQL any other way. */
export function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
