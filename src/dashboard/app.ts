/**
 * The admin dashboard's page script, bundled with ECharts by esbuild when the service first
 * serves `/dashboard/app.js` (src/api/dashboard.routes.ts). It reads only the public admin API
 * (with the token the user enters, kept in sessionStorage for the tab) and `/metrics` for the live
 * ingest rate and ETL lag.
 */
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { liveOption, retentionOption, rankedBarOption, seriesOption, timeLineOption } from './charts.ts';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

interface Summary { events: number; users: number; by_type: Record<string, number> }
interface Bucket { start: string; date: string; total: number; by_type: Record<string, number> }
interface Film { film_id: string; views: number; watch_seconds: number }
interface Element { kind: string; id: string; events: number; users: number }
interface Active { start: string; date: string; users: number }
interface Report { film_id: string; viewers: number; avg_completion: number | null; avg_watch_seconds: number; retention: { at: number; share: number }[] }

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};
const number = new Intl.NumberFormat('en-US');
const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const charts = new Map<string, echarts.ECharts>();
let token = sessionStorage.getItem('ugc-admin-token') ?? '';
let selectedFilm: string | undefined;

function chart(id: string): echarts.ECharts {
  let c = charts.get(id);
  if (!c) {
    c = echarts.init($(id), 'dark', { renderer: 'canvas' });
    charts.set(id, c);
  }
  return c;
}

function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) {
    const problem = (await res.json().catch(() => ({}))) as { detail?: string; title?: string };
    throw new Error(`${res.status} ${problem.detail ?? problem.title ?? res.statusText}`);
  }
  return (await res.json()) as T;
}

function rangeQuery(): string {
  const days = Number($<HTMLSelectElement>('range').value);
  const to = new Date();
  const from = new Date(to.getTime() - days * 86_400_000);
  return `from=${from.toISOString()}&to=${to.toISOString()}`;
}

function rows(tbody: HTMLElement, cells: string[][], onClick?: (i: number) => void): void {
  tbody.replaceChildren(
    ...cells.map((values, i) => {
      const tr = document.createElement('tr');
      for (const v of values) tr.appendChild(Object.assign(document.createElement('td'), { textContent: v }));
      if (onClick) tr.addEventListener('click', () => onClick(i));
      return tr;
    }),
  );
}

async function loadFilm(filmId: string): Promise<void> {
  selectedFilm = filmId;
  for (const tr of document.querySelectorAll('#top-films tbody tr')) tr.classList.toggle('selected', tr.firstChild?.textContent === filmId);
  const report = await api<Report>(`/analytics/films/${filmId}/report?${rangeQuery()}`);
  $('film-title').textContent = filmId;
  $('film-viewers').textContent = number.format(report.viewers);
  $('film-completion').textContent = report.avg_completion === null ? '–' : `${(report.avg_completion * 100).toFixed(1)} %`;
  $('film-avg-watch').textContent = (report.avg_watch_seconds / 60).toFixed(1);
  chart('retention-chart').setOption(retentionOption(report.retention), true);
}

async function load(): Promise<void> {
  status('Loading…');
  const q = rangeQuery();
  const days = Number($<HTMLSelectElement>('range').value);
  const interval = days <= 2 ? 'hour' : 'day';
  const zone = encodeURIComponent(tz);
  const [summary, series, films, elements, active] = await Promise.all([
    api<Summary>(`/analytics/summary?${q}`),
    api<{ items: Bucket[] }>(`/analytics/events/series?interval=${interval}&tz=${zone}&${q}`),
    api<{ items: Film[] }>(`/analytics/films/top?limit=10&${q}`),
    api<{ items: Element[] }>(`/analytics/elements/top?limit=10&${q}`),
    api<{ items: Active[] }>(`/analytics/users/active?interval=day&tz=${zone}&${q}`),
  ]);
  $('board').hidden = false;
  $('summary-events').textContent = number.format(summary.events);
  $('summary-users').textContent = number.format(summary.users);
  chart('series-chart').setOption(seriesOption(series.items, interval), true);
  chart('films-chart').setOption(rankedBarOption(films.items.map((f) => [f.film_id.slice(0, 8), f.views]), 'views'), true);
  rows($('top-films').querySelector('tbody') ?? $('top-films'), films.items.map((f) => [f.film_id, number.format(f.views), (f.watch_seconds / 3600).toFixed(1)]), (i) => {
    const film = films.items[i];
    if (film) void loadFilm(film.film_id).catch((err: unknown) => status(String(err), true));
  });
  chart('elements-chart').setOption(rankedBarOption(elements.items.map((e) => [`${e.kind}:${e.id}`, e.events]), 'clicks'), true);
  rows($('top-elements').querySelector('tbody') ?? $('top-elements'), elements.items.map((e) => [`${e.kind}:${e.id}`, number.format(e.events), number.format(e.users)]));
  chart('active-chart').setOption(timeLineOption(active.items.map((a) => [a.date, a.users]), 'users'), true);
  $('active-latest').textContent = active.items.length === 0 ? '0' : number.format(active.items.at(-1)?.users ?? 0);
  const film = films.items.find((f) => f.film_id === selectedFilm) ?? films.items[0];
  if (film) await loadFilm(film.film_id);
  status(`Updated ${new Date().toLocaleTimeString()} · ${tz}`);
}

/** Samples of the accepted-events counter and the ETL lag from /metrics, every 2 s. */
const samples: { t: number; accepted: number; lag: number | null }[] = [];
const rates: [string, number, number | null][] = [];

function metric(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

async function live(): Promise<void> {
  const text = await (await fetch('/metrics')).text();
  const sample = { t: Date.now(), accepted: metric(text, 'ugc_events_accepted_total') ?? 0, lag: metric(text, 'ugc_etl_consumer_lag') };
  const previous = samples.at(-1);
  samples.push(sample);
  if (samples.length > 2) samples.shift();
  $('etl-lag').textContent = sample.lag === null ? '–' : number.format(sample.lag);
  if (!previous) return;
  const rate = Math.max(0, (sample.accepted - previous.accepted) / ((sample.t - previous.t) / 1000));
  $('ingest-rate').textContent = number.format(Math.round(rate));
  rates.push([new Date(sample.t).toLocaleTimeString(), Math.round(rate), sample.lag]);
  if (rates.length > 90) rates.shift();
  chart('live-chart').setOption(liveOption(rates), true);
}

function start(): void {
  void load().catch((err: unknown) => status(`Could not load: ${err instanceof Error ? err.message : String(err)}`, true));
}

$('tz').textContent = tz;
$<HTMLInputElement>('token').value = token;
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $<HTMLInputElement>('token').value.trim();
  sessionStorage.setItem('ugc-admin-token', token);
  start();
});
$('range').addEventListener('change', start);
window.addEventListener('resize', () => {
  for (const c of charts.values()) c.resize();
});
if (token) start();
setInterval(() => void live().catch(() => undefined), 2_000);
void live().catch(() => undefined);
