// The progress reporter: what it prints and logs, how often, and what a starting node's /healthz reads from it.
import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, type ProgressSnapshot } from './progress.ts';

describe('createProgress', () => {
  it('reports the start, then at most once per interval with done, total, rate and time left, then the finish', () => {
    let t = 0;
    const lines: string[] = [];
    const events: { event: string; fields: Record<string, unknown> }[] = [];
    const progress = createProgress({ print: (l) => lines.push(l), log: (event, fields = {}) => events.push({ event, fields }), everyMs: 1000, now: () => t });
    const task = progress.start('restore.dedup_window', 'fingerprints');
    expect(lines).toEqual(['restore.dedup_window: 0 fingerprints, 0/s, time left unknown, 0.0 s elapsed']);
    task.setTotal(2_000_000);
    t = 500;
    task.advance(250_000);
    expect(lines).toHaveLength(1);
    expect(progress.current()).toMatchObject({ task: 'restore.dedup_window', done: 250_000, total: 2_000_000, ratePerSecond: 500_000, etaSeconds: 3.5, finished: false });
    t = 1000;
    task.advance(250_000);
    expect(lines.at(-1)).toBe('restore.dedup_window: 500,000 / 2,000,000 fingerprints (25%), 500,000/s, 3.0 s left, 1.0 s elapsed');
    t = 1999;
    task.advance(1_000_000);
    expect(lines).toHaveLength(2);
    t = 2500;
    task.advance(500_000);
    const last = task.finish();
    expect(last).toEqual<ProgressSnapshot>({ task: 'restore.dedup_window', unit: 'fingerprints', done: 2_000_000, total: 2_000_000, ratePerSecond: 800_000, etaSeconds: 0, elapsedSeconds: 2.5, finished: true });
    expect(lines.at(-1)).toBe('restore.dedup_window: 2,000,000 / 2,000,000 fingerprints (100%), 800,000/s, 0.0 s left, 2.5 s elapsed, done');
    expect(lines).toHaveLength(4);
    expect(progress.current()).toBeNull();
    // The log carries the same figures, one event per line printed.
    expect(events.map((e) => e.event)).toEqual(['progress', 'progress', 'progress', 'progress']);
    expect(events.at(-1)!.fields).toEqual({ ...last });
  });

  it('runs work as a task, finished whatever happens, saying so when it failed', async () => {
    const lines: string[] = [];
    const progress = createProgress({ print: (l) => lines.push(l), now: () => 0 });
    expect(await progress.run('restore.dedup_window', 'fingerprints', async (p) => (p.advance(5), 'read'), 5)).toBe('read');
    expect(lines).toEqual([
      'restore.dedup_window: 0 / 5 fingerprints (0%), 0/s, time left unknown, 0.0 s elapsed',
      'restore.dedup_window: 5 / 5 fingerprints (100%), 0/s, 0.0 s left, 0.0 s elapsed, done',
    ]);
    const failing = progress.run('restore.repair_derived', 'rows compared', async (p) => {
      p.setTotal(30);
      p.advance(10);
      throw new Error('storage: connection refused');
    });
    await expect(failing).rejects.toThrow('connection refused');
    expect(lines.at(-1)).toBe('restore.repair_derived: 10 / 30 rows compared (33%), 0/s, 0.0 s left, 0.0 s elapsed, failed: Error: storage: connection refused');
    expect(progress.current()).toBeNull();
  });

  it('the latest unfinished task is the current one', () => {
    const progress = createProgress({ now: () => 0 });
    const outer = progress.start('restore', 'steps', 2);
    const inner = progress.start('restore.repair_derived', 'rows compared', 30);
    expect(progress.current()?.task).toBe('restore.repair_derived');
    inner.finish();
    expect(progress.current()).toMatchObject({ task: 'restore', total: 2 });
    outer.finish();
    expect(progress.current()).toBeNull();
  });

  it('keeps reporting while the work advances nothing (a long query), until it finishes', async () => {
    const lines: string[] = [];
    let heard: () => void = () => {};
    const progress = createProgress({ everyMs: 20, print: (l) => (lines.push(l), heard()) });
    const task = progress.start('slow', 'rows', 10);
    await new Promise<void>((resolve) => (heard = resolve));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^slow: 0 \/ 10 rows \(0%\), 0\/s, time left unknown, \d+\.\d s elapsed$/);
    task.finish();
    const after = lines.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(lines).toHaveLength(after);
  });

  it('writes durations as a person reads them', () => {
    expect([0.04, 9.96, 42.4, 1080, 7199, 10_799].map(formatDuration)).toEqual(['0.0 s', '10.0 s', '42 s', '18 min', '2 h 0 min', '3 h 0 min']);
  });
});
