// Every CSV endpoint of the feed as a spreadsheet reads it: parsed by csv-parse, with the UTF-8 byte-order mark,
// CRLF line ends, quoted commas, quotes, newlines and CJK text intact, formulas defused, and the same numbers as
// the JSON of the same request.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testShow } from '../test-support/test-show.ts';
import { connectIngest, startTestSystem, type Answer } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import type { FrameData, LeaderEntry, MilestoneData } from '../protocol/live-protocol.ts';

/** Names an order system might send: each hits one CSV rule. */
const AWKWARD = {
  comma: 'Smith, Jones & Co',
  quote: 'The "Best" Shop',
  newline: 'Two\nLines',
  cjk: '北风服饰 旗舰店',
  formula: '=HYPERLINK("http://x.example","click")',
  plus: '+86 Mall',
  minus: '-Minus-',
  at: '@SUM(A1)',
};

let base = '';
let cleanup: () => Promise<void> = async () => undefined;
let from = 0;
let to = 0;

const get = async (path: string) => {
  const res = await fetch(base + path);
  expect(res.status, path).toBe(200);
  return res;
};

/** The raw text (BOM kept) and its records, as a spreadsheet would read them. */
async function csvOf(path: string): Promise<{ raw: string; header: string[]; rows: Record<string, string>[] }> {
  const res = await get(path);
  expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
  expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="gala-[a-z-]+\.csv"$/);
  const bytes = new Uint8Array(await res.arrayBuffer());
  expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const raw = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  // Every line break outside quoted fields is CRLF, and the document ends with one.
  const outside = raw.replace(/"(?:[^"]|"")*"/g, '');
  expect(outside.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  expect(raw.endsWith('\r\n')).toBe(true);
  const records = parse(raw, { bom: true, record_delimiter: '\r\n', relax_column_count: false, skip_empty_lines: false }) as string[][];
  const [header, ...body] = records;
  return { raw, header: header!, rows: body.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!]))) };
}

/** What a formula-starting text cell must read as: a leading apostrophe. */
const defused = (s: string) => (/^[=+\-@]/.test(s) ? `'${s}` : s);

describe('CSV a spreadsheet opens', () => {
  beforeAll(async () => {
    const now = Date.now();
    const show = testShow({
      name: 'CSV night',
      milestones: [
        { id: 'm-1', label: '¥1,000 "first" 一千', threshold: '1000' },
        { id: 'm-2', label: '=1+1 two thousand', threshold: '2000' },
        { id: 'm-3', label: 'never', threshold: '99999999' },
      ],
    });
    const s = await startTestSystem({ show });
    cleanup = s.cleanup;
    base = `http://127.0.0.1:${s.system.httpPort}`;
    const ingest = await connectIngest(s.system.ingestPort);
    const names = Object.values(AWKWARD);
    const orders = names.flatMap((name, i) =>
      Array.from({ length: 3 }, (_, k) => ({
        id: `csv-${i}-${k}`,
        ts: now - 40_000 + i * 3000 + k * 700,
        // Distinct totals per name, so board order is fixed; one order in dollars to exercise the conversion.
        amount: `${100 + i * 37}.${String(11 * (k + 1)).padStart(2, '0')}`,
        currency: k === 2 ? 'USD' : 'CNY',
        channel: k === 0 ? 'desktop' : 'mobile',
        brand: name,
        sku: `SKU ${name.slice(0, 20)}`,
        region: name,
      })),
    );
    const ack: Answer = await ingest.send(JSON.stringify({ batch: 'csv', orders }));
    expect(ack).toMatchObject({ accepted: orders.length });
    ingest.close();
    from = Math.floor((now - 60_000) / 1000);
    to = Math.floor(now / 1000) + 1;
    // The boards come from the rollups every 2 s; the crossings were found with the acked batch and are recorded
    // by the time the tracker's queue is flushed.
    await until('every name on the brands board', () => s.system.state.leaderboards().brands.night.length >= names.length);
    await s.system.milestones.flush();
    expect(s.system.milestones.list()).toHaveLength(2);
  });
  afterAll(async () => cleanup());

  it('writes the per-second and per-minute series with the same figures as the JSON', async () => {
    for (const resolution of ['second', 'minute']) {
      const q = `resolution=${resolution}&from=${from}&to=${to}`;
      const json = (await (await get(`/v1/series?${q}`)).json()) as { frames: FrameData[]; currency: string };
      const csv = await csvOf(`/v1/series.csv?${q}`);
      expect(csv.header).toEqual(['start', 'seconds', 'gmv', 'orders', 'mobile_share', 'mobile_order_share', 'currency']);
      expect(csv.rows.length).toBe(json.frames.length);
      expect(json.frames.some((f) => f.orders > 0)).toBe(true);
      csv.rows.forEach((r, i) => {
        const f = json.frames[i]!;
        expect(r).toEqual({ start: f.start, seconds: String(f.seconds), gmv: f.gmv, orders: String(f.orders), mobile_share: String(f.mobileShare), mobile_order_share: String(f.mobileOrderShare), currency: json.currency });
      });
    }
  });

  it('writes the milestones with quoted labels, CJK intact and a formula defused', async () => {
    const json = (await (await get('/v1/milestones')).json()) as { milestones: MilestoneData[] };
    const csv = await csvOf('/v1/milestones.csv');
    expect(csv.header).toEqual(['id', 'label', 'threshold', 'currency', 'crossed_at', 'elapsed_ms', 'elapsed', 'total', 'orders']);
    expect(json.milestones.map((m) => m.id)).toEqual(['m-1', 'm-2']);
    expect(csv.rows.map((r) => r.label)).toEqual(['¥1,000 "first" 一千', "'=1+1 two thousand"]);
    expect(csv.raw).toContain('"¥1,000 ""first"" 一千"');
    csv.rows.forEach((r, i) => {
      const m = json.milestones[i]!;
      expect(r).toEqual({ id: m.id, label: defused(m.label), threshold: m.threshold, currency: m.currency, crossed_at: m.crossedAt, elapsed_ms: String(m.elapsedMs), elapsed: m.elapsed, total: m.total, orders: String(m.orders) });
    });
  });

  it('writes every board, night and minute, with order-system names kept and defused, same numbers as the JSON', async () => {
    let rowsSeen = 0;
    for (const board of ['brands', 'products', 'regions']) {
      for (const window of ['night', 'minute']) {
        const q = `window=${window}&limit=100`;
        const json = (await (await get(`/v1/leaderboards/${board}?${q}`)).json()) as { entries: LeaderEntry[]; minute: string | null; currency: string };
        const csv = await csvOf(`/v1/leaderboards/${board}.csv?${q}`);
        expect(csv.header).toEqual(['rank', 'key', 'gmv', 'orders', 'share', 'currency', 'window', 'minute']);
        expect(csv.rows.length).toBe(json.entries.length);
        csv.rows.forEach((r, i) => {
          const e = json.entries[i]!;
          expect(r).toEqual({ rank: String(e.rank), key: defused(e.key), gmv: e.gmv, orders: String(e.orders), share: String(e.share), currency: json.currency, window, minute: json.minute ?? '' });
        });
        rowsSeen += csv.rows.length;
        if (board !== 'products' && window === 'night') {
          // Every awkward name comes back as the spreadsheet cell it should be.
          expect(new Set(csv.rows.map((r) => r.key))).toEqual(new Set(Object.values(AWKWARD).map(defused)));
          expect(csv.raw).toContain('"Two\nLines"');
          expect(csv.raw).toContain('"The ""Best"" Shop"');
          expect(csv.raw).toContain('"Smith, Jones & Co"');
          expect(csv.raw).toContain(',北风服饰 旗舰店,');
        }
      }
    }
    expect(rowsSeen).toBeGreaterThanOrEqual(3 * Object.keys(AWKWARD).length);
  });
});
