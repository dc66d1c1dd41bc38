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

/** A shard's figures from `from`, sent by `node` under the slot `shard:<s>` at `epoch`. */
function shardMessage(node: string, s: number, epoch: number, from: LiveTotals, run: number, seq: number): FiguresMessage {
  const m: FiguresMessage = { type: 'figures', node, slot: `shard:${s}`, epoch, run, seq, asOf: NOW, full: true, ...from.ownFigures(null) };
  return parseClusterMessage(JSON.stringify(m)) as FiguresMessage;
}

const rowsOf = (cny: bigint) => [{ currency: 'CNY', channel: 'mobile' as const, hundredths: cny, orders: 1 }];
const secondsOf = (cny: bigint) => rowsOf(cny).map((r) => ({ ...r, second: S }));

describe('cluster totals under leases (figures keyed by slot and epoch)', () => {
  /** A standby: no figures of its own, holds no lease. */
  const standby = () => new LiveTotals(show, () => NOW);

  it('a higher epoch\'s full figures replace the slot\'s, whatever the run and seq; a lower epoch\'s late message is ignored', () => {
    const t = standby();
    t.setPart(shardMessage('n1', 1, 3, nodeTotals(500n, 0n), 9_000, 40));
    // The new holder n3, at epoch 4: its run is earlier and its seq lower, its epoch decides.
    expect(t.setPart(shardMessage('n3', 1, 4, nodeTotals(700n, 0n), 1_000, 1))).not.toBeNull();
    expect(t.currencySums().get('CNY')).toBe(700n);
    // The old holder's figures of epoch 3 arrive late (a zombie's, or a slow link): ignored.
    expect(t.setPart(shardMessage('n1', 1, 3, nodeTotals(900n, 0n), 9_000, 41))).toBeNull();
    expect(t.setPart(shardMessage('n1', 1, 3, nodeTotals(900n, 0n), 9_999, 1))).toBeNull();
    expect(t.currencySums().get('CNY')).toBe(700n);
    // Beats vouch only for the figures they name.
    t.partHeard('shard:1', 9_000, 41, NOW + 10, 3);
    expect(t.partsHeld()).toEqual([{ node: 'shard:1', epoch: 4, run: 1_000, seq: 1, asOfMs: NOW, orders: 3 }]);
    // Slots add up: another shard's figures beside it.
    t.setPart(shardMessage('n2', 2, 1, nodeTotals(5n, 0n), 1, 1));
    expect(t.currencySums().get('CNY')).toBe(705n);
  });

  it('the old owner\'s last figures stay until the new owner\'s replace them, and its own take over without counting twice', () => {
    const n3 = standby();
    n3.setPart(shardMessage('n1', 1, 3, nodeTotals(500n, 0n), 9_000, 40));
    // n1 died: n3 still shows n1's last figures of shard 1 (nothing goes back while the lease passes).
    expect(n3.currencySums().get('CNY')).toBe(500n);
    // n3 takes shard 1 at epoch 4: its replica holds everything n1 acked (520) and replaces n1's figures.
    const added = n3.takeSlot('shard:1', 4, rowsOf(520n), secondsOf(520n), NOW);
    expect(n3.ownSlot()).toEqual({ slot: 'shard:1', epoch: 4 });
    expect(n3.currencySums().get('CNY')).toBe(520n);
    expect(n3.partsHeld()).toEqual([]);
    expect(added).toEqual([{ second: S, byCurrency: new Map([['CNY', 20n]]), orders: -2 }]);
    expect(n3.ownFigures(null).total.currencies.CNY!.amount).toBe('520');
    // n1's late figures of epoch 3 (a zombie's) change nothing on the new holder.
    expect(n3.setPart(shardMessage('n1', 1, 3, nodeTotals(999n, 0n), 9_000, 41))).toBeNull();
    expect(n3.currencySums().get('CNY')).toBe(520n);
  });

  it('a holder that lets its lease go keeps its last figures as a part until a higher epoch replaces them', () => {
    const n3 = standby();
    n3.takeSlot('shard:1', 4, rowsOf(520n), secondsOf(520n), NOW);
    n3.releaseSlot();
    expect(n3.ownSlot()).toBeNull();
    expect(n3.ownFigures(null).total.orders).toBe(0);
    expect(n3.currencySums().get('CNY')).toBe(520n);
    // Its own figures of epoch 4 echoed back by anyone are not newer than what it kept.
    expect(n3.setPart(shardMessage('n3', 1, 4, nodeTotals(1n, 0n), 5, 5))).toBeNull();
    expect(n3.currencySums().get('CNY')).toBe(520n);
    // n1 back, at epoch 5, with everything: replaces them.
    n3.setPart(shardMessage('n1', 1, 5, nodeTotals(530n, 0n), 9_100, 1));
    expect(n3.currencySums().get('CNY')).toBe(530n);
  });

  it('a holder hearing a higher epoch for its own slot drops its own figures of it (its lease passed on)', () => {
    const n1 = standby();
    n1.takeSlot('shard:1', 3, rowsOf(500n), secondsOf(500n), NOW);
    expect(n1.setPart(shardMessage('n3', 1, 3, nodeTotals(1n, 0n), 1, 1))).toBeNull();
    n1.setPart(shardMessage('n3', 1, 4, nodeTotals(510n, 0n), 1, 1));
    expect(n1.ownSlot()).toBeNull();
    expect(n1.currencySums().get('CNY')).toBe(510n);
    expect(n1.ownFigures(null).total.orders).toBe(0);
  });

  it('refuses a malformed slot or epoch, naming it', () => {
    const base = { type: 'beat', node: 'n1', run: 1, seq: 1, asOf: 1 };
    expect(() => parseClusterMessage(JSON.stringify({ ...base, epoch: -1 }))).toThrow('beat.epoch: must be an integer >= 0 when given');
    expect(() => parseClusterMessage(JSON.stringify({ ...base, slot: '' }))).toThrow('beat.slot: must be a non-empty string when given');
  });
});
