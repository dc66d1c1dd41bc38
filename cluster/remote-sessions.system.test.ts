// A cluster node's check of a session cookie, asked of a real control room (a whole system on chDB standing in for
// the coordinator): a live session is known, answers are remembered briefly and in a bounded memory, a refused one
// is remembered for less, a malformed id is never sent, and an unreachable coordinator gets no for an answer that
// is not remembered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNode } from '../domain/cluster-map.ts';
import { silentLog } from '../platform/log.ts';
import { freePorts } from '../test-support/clickhouse-server.ts';
import { startTestSystem, TEST_TOKEN } from '../test-support/system-harness.ts';
import { RemoteSessions } from './remote-sessions.ts';

const PRODUCER = 'test-producer-token';
let sys: Awaited<ReturnType<typeof startTestSystem>>;
let coordinator: ClusterNode;

/** Logs in on the coordinator: the session cookie's value, and the session's CSRF token. */
async function login(operator: string): Promise<{ id: string; csrf: string }> {
  const r = await fetch(`http://127.0.0.1:${sys.system.httpPort}/control/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: PRODUCER, operator }) });
  expect(r.status).toBe(200);
  return { id: /gala_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')![1]!, csrf: ((await r.json()) as { csrf: string }).csrf };
}

beforeAll(async () => {
  sys = await startTestSystem({ producerTokens: [PRODUCER] });
  coordinator = { id: 'n1', host: '127.0.0.1', httpPort: sys.system.httpPort, ingestPort: sys.system.ingestPort, clickhouseUrl: 'http://127.0.0.1:1' };
});
afterAll(async () => {
  await sys?.cleanup();
});

describe('RemoteSessions', () => {
  it('knows a live session, remembers the answer for a while, then asks again and learns of a logout', async () => {
    let now = 1_000_000;
    const remote = new RemoteSessions({ coordinator, token: TEST_TOKEN, selfHost: '127.0.0.1:1', log: silentLog, liveForMs: 5000, refusedForMs: 1000, now: () => now });
    const { id, csrf } = await login('Ana');
    expect(await remote.check(id, false)).toBe(true);
    expect(remote.asked).toBe(1);
    // Remembered: answered at once, without a question.
    expect(remote.check(id, false)).toBe(true);
    expect(remote.asked).toBe(1);
    // Over HTTPS the cookie is the __Host- one: another question, which the coordinator answers from that cookie.
    expect(await remote.check(id, true)).toBe(true);
    expect(remote.asked).toBe(2);

    const out = await fetch(`http://127.0.0.1:${sys.system.httpPort}/control/logout`, { method: 'POST', headers: { cookie: `gala_session=${id}`, 'x-csrf-token': csrf } });
    expect(out.status).toBe(200);
    expect(remote.check(id, false)).toBe(true);
    now += 5001;
    expect(await remote.check(id, false)).toBe(false);
    expect(remote.asked).toBe(3);
    // A refusal is remembered for less.
    expect(remote.check(id, false)).toBe(false);
    now += 1001;
    expect(await remote.check(id, false)).toBe(false);
    expect(remote.asked).toBe(4);
  });

  it('asks once for many checks at once, never sends a malformed id, and remembers a bounded number of answers', async () => {
    const remote = new RemoteSessions({ coordinator, token: TEST_TOKEN, selfHost: '127.0.0.1:1', log: silentLog, maxEntries: 2 });
    const { id } = await login('Bo');
    expect(await Promise.all([remote.check(id, false), remote.check(id, false), remote.check(id, false)])).toEqual([true, true, true]);
    expect(remote.asked).toBe(1);
    for (const bad of ['', 'a;b', 'x'.repeat(101), 'a\r\nx-evil: 1']) expect(remote.check(bad, false)).toBe(false);
    expect(remote.asked).toBe(1);
    for (const k of ['one', 'two', 'three']) expect(await remote.check(`not-a-session-${k}`, false)).toBe(false);
    expect(remote.size).toBe(2);
  });

  it('with the coordinator unreachable, answers no and asks again next time', async () => {
    const [closed] = await freePorts(1);
    const remote = new RemoteSessions({ coordinator: { ...coordinator, httpPort: closed! }, token: TEST_TOKEN, selfHost: '127.0.0.1:1', log: silentLog });
    expect(await remote.check('some-session', false)).toBe(false);
    expect(await remote.check('some-session', false)).toBe(false);
    expect(remote.asked).toBe(2);
    expect(remote.size).toBe(0);
  });
});
