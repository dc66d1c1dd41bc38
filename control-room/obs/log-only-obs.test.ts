// The log-only OBS and the choice between it and the gateway: cues are logged, scenes tracked, nothing is sent anywhere.
import { describe, expect, it } from 'vitest';
import { createLogOnlyObs } from './log-only-obs.ts';
import { createObsPort } from './index.ts';
import { ObsGateway } from './obs-gateway.ts';
import type { ObsStatus } from '../../domain/obs-port.ts';

describe('log-only OBS', () => {
  it('logs each step, tracks the scene it would have switched to, and reports log-only', async () => {
    const lines: unknown[] = [];
    const obs = createLogOnlyObs({ log: (event, fields) => lines.push({ event, ...fields }), configured: true, scenes: ['Stage', 'Break'] });
    const seen: ObsStatus[] = [];
    obs.onStatus((s) => seen.push(s));
    expect(obs.status()).toMatchObject({ configured: true, link: 'log-only', programScene: 'Stage', url: null });
    const res = await obs.run([{ type: 'text', source: 'Ticker', text: 'hi' }, { type: 'scene', scene: 'Finale' }]);
    expect(res).toMatchObject({ ok: true, logOnly: true });
    expect(res.results.map((r) => r.detail)).toEqual(['log only: would set the text of "Ticker" to "hi"', 'log only: would switch program to "Finale"']);
    expect(obs.status()).toMatchObject({ programScene: 'Finale', scenes: ['Stage', 'Break', 'Finale'] });
    await obs.run([{ type: 'preview', scene: 'Break' }, { type: 'take' }]);
    expect(obs.status()).toMatchObject({ programScene: 'Break', previewScene: 'Finale' });
    expect(seen.map((s) => s.rev)).toEqual([1, 2]);
    expect(lines).toEqual([
      { event: 'obs.log_only', steps: res.results.map((r) => r.detail) },
      { event: 'obs.log_only', steps: ['log only: would put "Break" in preview', 'log only: would take "Break" to program'] },
    ]);
    await obs.close();
  });

  it('is what the control room gets without an OBS url; with one it gets the gateway', async () => {
    const none = createObsPort({ obsUrl: null, obsPassword: null }, () => {});
    expect(none.status()).toMatchObject({ configured: false, link: 'log-only' });
    // Nothing listens on port 9 (discard): the gateway starts, fails to connect, and is closed.
    const gw = createObsPort({ obsUrl: 'ws://127.0.0.1:9', obsPassword: 'pw' }, () => {}, { backoffBaseMs: 1000 });
    expect(gw).toBeInstanceOf(ObsGateway);
    expect(gw.status()).toMatchObject({ configured: true, url: 'ws://127.0.0.1:9' });
    await gw.close();
    expect(gw.status().link).toBe('off');
  });
});
