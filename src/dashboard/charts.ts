import type { EChartsCoreOption } from 'echarts/core';

/** ECharts options of the dashboard's charts, from the API's answers (pure functions: data in, option out). */

const base = { backgroundColor: 'transparent', tooltip: { trigger: 'axis' }, grid: { left: 56, right: 16, top: 32, bottom: 40 } };

/** Stacked bars of events per bucket, one series per type. */
export function seriesOption(buckets: { start: string; date: string; by_type: Record<string, number> }[], interval: 'hour' | 'day'): EChartsCoreOption {
  const types = [...new Set(buckets.flatMap((b) => Object.keys(b.by_type)))].sort();
  const labels = buckets.map((b) => (interval === 'day' ? b.date : new Date(b.start).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit' })));
  return {
    ...base,
    legend: { top: 0, type: 'scroll' },
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value' },
    series: types.map((type) => ({ name: type, type: 'bar', stack: 'events', data: buckets.map((b) => b.by_type[type] ?? 0) })),
  };
}

/** Horizontal bars, largest on top. */
export function rankedBarOption(items: [string, number][], name: string): EChartsCoreOption {
  const reversed = [...items].reverse();
  return {
    ...base,
    grid: { left: 130, right: 24, top: 8, bottom: 24 },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: reversed.map(([label]) => label), axisLabel: { width: 120, overflow: 'truncate' } },
    series: [{ name, type: 'bar', data: reversed.map(([, v]) => v), itemStyle: { color: '#5b8def' } }],
  };
}

/** The audience-retention curve: share of viewers still watching at each 5 % of the film. */
export function retentionOption(points: { at: number; share: number }[]): EChartsCoreOption {
  return {
    ...base,
    xAxis: { type: 'category', name: 'film %', data: points.map((p) => `${Math.round(p.at * 100)}`) },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value} %' } },
    series: [{ name: 'still watching', type: 'line', areaStyle: { opacity: 0.25 }, smooth: false, data: points.map((p) => Math.round(p.share * 1000) / 10) }],
  };
}

/** One line over labelled points. */
export function timeLineOption(points: [string, number][], name: string): EChartsCoreOption {
  return {
    ...base,
    xAxis: { type: 'category', data: points.map(([label]) => label) },
    yAxis: { type: 'value' },
    series: [{ name, type: 'line', data: points.map(([, v]) => v), areaStyle: { opacity: 0.15 } }],
  };
}

/** Live ingest rate (events/s) and ETL lag (records), two axes. */
export function liveOption(samples: [string, number, number | null][]): EChartsCoreOption {
  return {
    ...base,
    legend: { top: 0 },
    xAxis: { type: 'category', data: samples.map(([t]) => t) },
    yAxis: [{ type: 'value', name: 'events/s' }, { type: 'value', name: 'lag' }],
    series: [
      { name: 'ingest rate', type: 'line', showSymbol: false, data: samples.map(([, r]) => r) },
      { name: 'ETL lag', type: 'line', showSymbol: false, yAxisIndex: 1, data: samples.map(([, , lag]) => lag) },
    ],
  };
}
