// LiveClient against a scripted socket: typed subscribers, subscribing and unsubscribing as subscribers come and
// go, the connection status as its own event, gap resync; and the topic -> data map at the type level.
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { LiveHub } from '../aggregator/live-hub.ts';
import {
  isMessageOf,
  LiveClient,
  type ClientMessage,
  type FrameData,
  type FramesData,
  type GraphicState,
  type LinkStatus,
  type ProductData,
  type ServerMessage,
  type SnapshotOf,
  type SocketLike,
  type TopicMessage,
  type TotalsData,
  type UpdateOf,
} from './live-protocol.ts';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: ClientMessage[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientMessage);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(msg: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

const TOTALS: TotalsData = { gmv: '10.00', orders: 1, mobileShare: 1, mobileOrderShare: 1, currency: 'CNY', status: 'live', unaudited: true, gmvPerSecond: '0.00', ordersPerSecond: 0, asOf: '2026-11-11T00:00:00.000Z' };
const FRAME: FrameData = { start: '2026-11-11T00:00:00.000Z', seconds: 1, gmv: '10.00', orders: 1, mobileShare: 1, mobileOrderShare: 1, total: { gmv: '10.00', orders: 1 } };

function client() {
  const sockets: FakeSocket[] = [];
  const c = new LiveClient({
    url: 'ws://test/v1/live',
    connect: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
  });
  return { c, sockets, last: () => sockets.at(-1)! };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LiveClient', () => {
  it('subscribes on connecting to every topic it has subscribers for, and hands each its own typed messages', () => {
    const { c, last } = client();
    const totals: TotalsData[] = [];
    const frames: string[] = [];
    c.subscribe('totals', (m) => totals.push(m.data));
    c.subscribe('second', (m) => {
      if (m.type === 'snapshot') frames.push(...m.data.frames.map((f) => `snapshot ${f.start}`));
      else frames.push(`update ${m.data.start}`);
    });
    c.start();
    last().open();
    expect(last().sent).toEqual([{ op: 'subscribe', topics: ['totals', 'second'] }]);
    last().deliver({ type: 'snapshot', topic: 'second', rev: 4, at: FRAME.start, data: { frames: [FRAME] } });
    last().deliver({ type: 'snapshot', topic: 'totals', rev: 7, at: TOTALS.asOf, data: TOTALS });
    last().deliver({ type: 'update', topic: 'second', rev: 5, at: FRAME.start, sentAt: 0, data: { ...FRAME, start: 'next' } });
    expect(totals).toEqual([TOTALS]);
    expect(frames).toEqual([`snapshot ${FRAME.start}`, 'update next']);
  });

  it('subscribes to a topic when its first subscriber comes while connected, and unsubscribes when its last goes', () => {
    const { c, last } = client();
    c.start();
    last().open();
    const got: ProductData[] = [];
    const off1 = c.subscribe('product:A-1', (m) => got.push(m.data));
    const off2 = c.subscribe('product:A-1', () => undefined);
    expect(last().sent).toEqual([{ op: 'subscribe', topics: ['product:A-1'] }]);
    last().deliver({ type: 'snapshot', topic: 'product:A-1', rev: 0, at: '', data: { sku: 'A-1', units: 2, gmv: '20.00' } });
    expect(got).toEqual([{ sku: 'A-1', units: 2, gmv: '20.00' }]);
    off1();
    expect(last().sent).toHaveLength(1);
    off2();
    expect(last().sent).toEqual([
      { op: 'subscribe', topics: ['product:A-1'] },
      { op: 'unsubscribe', topics: ['product:A-1'] },
    ]);
    last().deliver({ type: 'update', topic: 'product:A-1', rev: 1, at: '', sentAt: 0, data: { sku: 'A-1', units: 3, gmv: '30.00' } });
    expect(got).toHaveLength(1);
  });

  it('asks for a fresh snapshot on a revision gap and ignores the topic until it comes', () => {
    const { c, last } = client();
    const revs: number[] = [];
    c.subscribe('totals', (m) => revs.push(m.rev));
    c.start();
    last().open();
    last().deliver({ type: 'snapshot', topic: 'totals', rev: 1, at: '', data: TOTALS });
    last().deliver({ type: 'update', topic: 'totals', rev: 3, at: '', sentAt: 0, data: TOTALS });
    last().deliver({ type: 'update', topic: 'totals', rev: 4, at: '', sentAt: 0, data: TOTALS });
    expect(c.gaps).toBe(1);
    expect(last().sent.at(-1)).toEqual({ op: 'snapshot', topic: 'totals' });
    last().deliver({ type: 'snapshot', topic: 'totals', rev: 4, at: '', data: TOTALS });
    last().deliver({ type: 'update', topic: 'totals', rev: 5, at: '', sentAt: 0, data: TOTALS });
    expect(revs).toEqual([1, 4, 5]);
  });

  it('reports its status as events of its own: connecting, open, closed with why, and a reconnection', () => {
    vi.useFakeTimers();
    const { c, sockets, last } = client();
    const seen: [LinkStatus, string | undefined][] = [];
    c.onStatus((s, detail) => seen.push([s, detail]));
    c.start();
    last().open();
    last().onclose?.({});
    expect(seen).toEqual([
      ['connecting', undefined],
      ['open', undefined],
      ['closed', 'closed'],
    ]);
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(2);
    last().open();
    seen.length = 0;
    c.reconnect('silent');
    expect(sockets[1]!.closed).toBe(true);
    expect(sockets).toHaveLength(3);
    expect(seen).toEqual([
      ['closed', 'silent'],
      ['connecting', undefined],
    ]);
    c.stop();
  });
});

describe('the topic -> data map', () => {
  it('types every topic, product topics included, and the messages by topic', () => {
    expectTypeOf<SnapshotOf<'totals'>>().toEqualTypeOf<TotalsData>();
    expectTypeOf<SnapshotOf<'second'>>().toEqualTypeOf<FramesData>();
    expectTypeOf<UpdateOf<'second'>>().toEqualTypeOf<FrameData>();
    expectTypeOf<UpdateOf<'graphics'>>().toEqualTypeOf<GraphicState>();
    expectTypeOf<SnapshotOf<'product:SKU-1'>>().toEqualTypeOf<ProductData>();
    const m = { type: 'update', topic: 'second', rev: 1, at: '', sentAt: 0, data: FRAME } as ServerMessage;
    if (isMessageOf(m, 'second')) expectTypeOf(m).toEqualTypeOf<TopicMessage<'second'>>();
  });

  it("has the hub's publish take only the topic's update type", () => {
    // Compiled, never run: the type checker is the test.
    const publishes = (hub: LiveHub) => {
      hub.publish('totals', '', TOTALS);
      hub.publish('product:A-1', '', { sku: 'A-1', units: 1, gmv: '1.00' });
      // @ts-expect-error a frame is not the totals
      hub.publish('totals', '', FRAME);
      // @ts-expect-error a graphics update is one graphic's state, not the snapshot
      hub.publish('graphics', '', { graphics: {} });
    };
    expect(typeof publishes).toBe('function');
  });
});
