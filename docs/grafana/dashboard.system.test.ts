// The Grafana dashboard names only metrics that /metrics exposes: a real system takes a few orders, a screen
// subscribes and an overlay reports, then every PromQL expression's metric names are looked up in the scrape.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectIngest, startTestSystem, TEST_TOKEN } from '../../test-support/system-harness.ts';

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
}
const dashboard = JSON.parse(readFileSync(new URL('./gala-dashboard.json', import.meta.url), 'utf8')) as { panels: Panel[]; templating: { list: Variable[] } };

const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
/** label_values(metric, label) in the variables' queries names a metric too. */
const variableMetrics = dashboard.templating.list.flatMap((v) => [...JSON.stringify(v.query).matchAll(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,/g)].map((m) => m[1]!));

/** Words of PromQL that are not metric names when no parenthesis follows them. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: everything else (functions, labels, ranges, numbers) stripped. */
function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b(?:group_left|group_right)\b/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:])\d[\w.+-]*/g, ' ');
  const names: string[] = [];
  for (const m of s.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const followedByCall = /^\s*\(/.test(s.slice(m.index + m[0].length));
    if (!followedByCall && !KEYWORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

/** A scrape read as the Prometheus text format: declared families with their types, and the sample names seen. */
function parseExposition(text: string): { types: Map<string, string>; samples: Set<string>; bad: string[] } {
  const types = new Map<string, string>();
  const samples = new Set<string>();
  const bad: string[] = [];
  const sample = /^([a-zA-Z_:][\w:]*)(?:\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*"(?:,|(?=\})))*\})? (?:-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|[+-]?inf|nan)$/i;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) types.set(type[1]!, type[2]!);
    else if (/^# HELP [a-zA-Z_:][\w:]* .*$/.test(line)) continue;
    else if (sample.test(line)) samples.add(sample.exec(line)![1]!);
    else bad.push(line);
  }
  return { types, samples, bad };
}

/** The family a sample belongs to: a histogram's _bucket, _sum and _count belong to the histogram. */
function familyOf(name: string, types: Map<string, string>): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && types.get(m[1]!) === 'histogram' ? m[1]! : name;
}

let scrape = '';
let cleanup: () => Promise<void> = async () => {};

beforeAll(async () => {
  const started = await startTestSystem();
  cleanup = started.cleanup;
  const { system } = started;
  const order = (id: string, amount: string) => ({ id, ts: Date.now(), amount, currency: 'CNY', channel: 'mobile' });
  const ingest = await connectIngest(system.ingestPort);
  // Accepted, duplicate and rejected orders, so every counter and the commit histogram have samples.
  await ingest.send(JSON.stringify({ batch: 'dash-1', orders: [order('d-1', '10.00'), order('d-2', '5.50')] }));
  await ingest.send(JSON.stringify({ batch: 'dash-2', orders: [order('d-1', '10.00'), order('d-3', '1.001')] }));
  ingest.close();
  // A screen on the live channel, reporting as an overlay does.
  const live = new WebSocket(`ws://127.0.0.1:${system.httpPort}/v1/live`);
  await new Promise((resolve, reject) => live.once('open', resolve).once('error', reject));
  live.send(JSON.stringify({ op: 'subscribe', topics: ['totals'] }));
  live.send(JSON.stringify({ op: 'report', report: { overlay: 'counter', instance: 'dashboard-test', fps: 58 } }));
  const read = async () => (await fetch(`http://127.0.0.1:${system.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
  // Until the overlay's report has arrived and the engine's first sample of parts and merges is in.
  for (scrape = await read(); !(scrape.includes('gala_overlay_fps_min{overlay="counter"} 58') && scrape.includes('gala_storage_parts{')); scrape = await read()) {
    await new Promise((r) => setTimeout(r, 50));
  }
  live.close();
});

afterAll(() => cleanup());

describe('the Grafana dashboard', () => {
  it('reads metric names out of PromQL and nothing else', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y",instance=~"$instance"}[$__rate_interval])))')).toEqual(['a_bucket']);
    expect(metricNames('sum(rate(b_total{s="1"}[5m])) / on(instance) group_left c offset 1h > bool 1e3 and min without (t) (d)')).toEqual(['b_total', 'c', 'd']);
    expect(exprs.length).toBeGreaterThan(30);
  });

  it('names only metrics that /metrics exposes, histogram suffixes on histograms only', () => {
    const { types, samples } = parseExposition(scrape);
    const named = [...new Set([...exprs.flatMap(metricNames), ...variableMetrics])];
    const missing = named.filter((n) => !samples.has(n) || !types.has(familyOf(n, types)));
    expect(missing).toEqual([]);
    // The areas the dashboard is for: ingest rate, ack latency, buffer fill, storage state, parts and merges,
    // reconciliation drift, late duplicates, subscribers and overlays.
    expect(named).toEqual(expect.arrayContaining([
      'gala_ingest_orders_total', 'gala_ingest_commit_seconds_bucket', 'gala_ingest_buffer_fill_ratio', 'gala_storage_up', 'gala_storage_parts',
      'gala_storage_merges_running', 'gala_reconcile_drift_currencies', 'gala_late_duplicate_copies', 'gala_live_subscribers', 'gala_overlays', 'gala_overlay_fps_min',
    ]));
  });

  it('is scraped as valid Prometheus text, every sample in a declared family', () => {
    const { types, samples, bad } = parseExposition(scrape);
    expect(bad).toEqual([]);
    expect([...samples].filter((n) => !types.has(familyOf(n, types)))).toEqual([]);
    expect(scrape).toMatch(/^gala_overlays\{overlay="counter",state="connected"\} 1$/m);
    expect(scrape).toMatch(/^gala_live_subscribers\{topic="totals"\} 1$/m);
    expect(types.get('gala_reconcile_repairs_total')).toBe('counter');
  });

  it('is importable: a Prometheus datasource variable, and every query on it', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const targets = panels.flatMap((p) => p.targets ?? []);
    expect(targets.filter((t) => t.datasource?.uid !== '${datasource}')).toEqual([]);
    expect(panels.filter((p) => p.type !== 'row' && (p.targets ?? []).length === 0).map((p) => p.title)).toEqual([]);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });
});
