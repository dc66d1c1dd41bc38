// The live totals in cluster mode: this node's own figures go out exactly, the other nodes' latest come in, the
// sum is exact, and older figures (a lower seq, an earlier run) never replace newer ones.
import { describe, expect, it } from 'vitest';
import { parseShowConfig } from '../domain/show.ts';
import { parseClusterMessage, type FiguresMessage } from '../protocol/cluster-protocol.ts';
import { LiveTotals } from './live-totals.ts';

const show = parseShowConfig({ name: 'Cluster totals test', currency: 'CNY', rates: { USD: '7.1200' } });
const NOW = 1_800_000_000_000;
const S = NOW / 1000 - 3;

/** A node's totals holding `cny` and `usd` hundredths, all paid in second S, the CNY ones on mobile. */
function nodeTotals(cny: bigint, usd: bigint): LiveTotals {
  const t = new LiveTotals(show, () => NOW);
  const rows = [
    { currency: 'CNY', channel: 'mobile' as const, hundredths: cny, orders: 2 },
    { currency: 'USD', channel: 'desktop' as const, hundredths: usd, orders: 1 },
  ];
  t.load(rows, rows.map((r) => ({ ...r, second: S })), NOW);
  return t;
}

/** What `from` sends on the link, through the wire and its parser. */
function message(node: string, from: LiveTotals, run: number, seq: number, asOf = NOW): FiguresMessage {
  const m: FiguresMessage = { type: 'figures', node, run, seq, asOf, full: true, ...from.ownFigures(null) };
  return parseClusterMessage(JSON.stringify(m)) as FiguresMessage;
}

describe('cluster totals', () => {
  it('adds other nodes\' figures exactly, totals and per second, and keeps its own apart', () => {
    const own = nodeTotals(10_001n, 3n);
    const peer = nodeTotals(99_999_999_999_999_999n, 1n);
    expect(own.setPart(message('n2', peer, 1, 1))).not.toBeNull();
    expect(own.currencySums()).toEqual(new Map([['CNY', 100_000_000_000_010_000n], ['USD', 4n]]));
    expect(own.orders).toBe(6);
    // round_half_even over the summed currencies: 4 USD hundredths x 7.12 = 28.48 -> 28.
    expect(own.snapshot().gmv).toBe('1000000000000100.28');
    expect(own.span(S, S + 1).orders).toBe(6);
    expect(own.snapshot().byCurrency.CNY).toEqual({ amount: '1000000000000100.00', orders: 4 });
    // What it sends is its own alone.
    expect(own.ownFigures(null).total.currencies.CNY).toEqual({ amount: '10001', mobile: '10001', orders: 2 });
  });

  it('never goes back: a lower or equal seq of the same run is ignored, a later run wins', () => {
    const own = nodeTotals(0n, 0n);
    own.setPart(message('n2', nodeTotals(500n, 0n), 5, 7));
    expect(own.setPart(message('n2', nodeTotals(400n, 0n), 5, 6))).toBeNull();
    expect(own.setPart(message('n2', nodeTotals(400n, 0n), 4, 99))).toBeNull();
    expect(own.currencySums().get('CNY')).toBe(500n);
    // Restarted (a later run), its figures restored from storage replace the earlier run's, whatever the seq.
    const added = own.setPart(message('n2', nodeTotals(600n, 0n), 6, 0));
    expect(own.currencySums().get('CNY')).toBe(600n);
    expect(added).toEqual([{ second: S, byCurrency: new Map([['CNY', 100n]]), orders: 0 }]);
  });

  it('reports as of the oldest node\'s figures', () => {
    const own = nodeTotals(1n, 0n);
    own.setPart(message('n2', nodeTotals(1n, 0n), 1, 1, NOW - 2500));
    expect(own.snapshot().asOf).toBe(new Date(NOW - 2500).toISOString());
    own.partHeard('n2', 1, 1, NOW - 100);
    expect(own.snapshot().asOf).toBe(new Date(NOW - 100).toISOString());
  });

  it('refuses a link frame that is not one, naming the field', () => {
    expect(() => parseClusterMessage('{"type":"figures","node":"n2","run":1,"seq":1,"asOf":1,"full":true,"total":{"orders":1,"mobileOrders":0,"currencies":{"CNY":{"amount":"1.5","mobile":"0","orders":1}}},"seconds":[]}')).toThrow(
      'figures.total.currencies.CNY: must be {amount, mobile: integer strings, orders: integer}',
    );
    expect(() => parseClusterMessage('{"type":"hello"}')).toThrow('type must be figures, beat, milestones, control, graphics or boards');
  });
});
