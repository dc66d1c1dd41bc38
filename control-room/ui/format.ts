// Formatting for the control room: durations, countdowns, money strings (kept as strings: never floats) and
// short summaries of a cue's actions and triggers.
import type { Cue, CueAction, TriggerCondition } from '../../domain/rundown.ts';

export function secs(ms: number): string {
  if (ms <= 0) return '0.0';
  return (ms / 1000).toFixed(1);
}

/** "1.5 s", "2 min 3 s", "-" for zero. */
export function duration(ms: number): string {
  if (ms <= 0) return '-';
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

/** Groups the whole part of a decimal string by thousands without going through a float. */
export function money(decimal: string): string {
  const neg = decimal.startsWith('-');
  const [whole = '0', frac] = (neg ? decimal.slice(1) : decimal).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

export function clock(iso: string | null): string {
  if (iso === null) return '-';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString().slice(11, 19);
}

/** Age of an instant in words, e.g. "3.2 s ago". */
export function ago(iso: string | null, now = Date.now()): string {
  if (iso === null) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return 'now';
  if (ms < 120_000) return `${(ms / 1000).toFixed(0)} s ago`;
  return `${Math.round(ms / 60_000)} min ago`;
}

function dataSummary(data: Record<string, unknown> | undefined): string {
  if (data === undefined) return '';
  const pick = data.title ?? data.label ?? data.board ?? data.sku ?? data.text;
  return typeof pick === 'string' || typeof pick === 'number' ? ` "${pick}"` : '';
}

export function actionSummary(a: CueAction): string {
  if (a.type === 'wait') return `wait ${duration(a.ms)}`;
  if (a.type === 'graphic') return `${a.graphic} ${a.command}${dataSummary(a.data)}`;
  const o = a.obs;
  switch (o.type) {
    case 'scene':
      return `OBS scene ${o.scene}`;
    case 'preview':
      return `OBS preview ${o.scene}`;
    case 'take':
      return 'OBS take';
    case 'source-visible':
      return `OBS ${o.visible ? 'show' : 'hide'} ${o.source}`;
    case 'text':
      return `OBS text ${o.source}`;
    case 'custom-event':
      return 'OBS event';
  }
}

export function actionsSummary(c: Cue): string {
  return c.actions.length === 0 ? '(no actions)' : c.actions.map(actionSummary).join(' · ');
}

const METRIC: Record<TriggerCondition['metric'], string> = { gmv: 'GMV', orders: 'orders', mobileShare: 'mobile share', productUnits: 'units' };

export function triggerSummary(t: TriggerCondition): string {
  const value = t.metric === 'gmv' ? money(t.atLeast) : t.metric === 'mobileShare' ? percent(Number(t.atLeast)) : t.atLeast;
  return `${METRIC[t.metric]}${t.sku === undefined ? '' : ` ${t.sku}`} ≥ ${value}`;
}

export function metricValue(t: TriggerCondition, v: string | null): string {
  if (v === null) return '-';
  if (t.metric === 'gmv') return money(v);
  if (t.metric === 'mobileShare') return percent(Number(v));
  return v;
}

/**
 * A set of partition numbers in a few characters: "0–63", "0, 3, 6 … 63 (step 3)" (how a cluster spreads them),
 * otherwise its runs, "1–4, 9, 12–15", the first six of them at most.
 */
export function partitionRanges(ps: readonly number[]): string {
  const s = [...new Set(ps)].sort((a, b) => a - b);
  const first = s[0];
  if (first === undefined) return 'none';
  const last = s[s.length - 1]!;
  const step = s.length > 1 ? s[1]! - first : 0;
  const even = s.every((p, i) => i === 0 || p - s[i - 1]! === step);
  if (even && step === 1) return `${first}–${last}`;
  if (even && s.length > 3) return `${first}, ${s[1]}, ${s[2]} … ${last} (step ${step})`;
  const runs: string[] = [];
  let start = first;
  for (let i = 1; i <= s.length; i++) {
    if (i < s.length && s[i] === s[i - 1]! + 1) continue;
    const end = s[i - 1]!;
    runs.push(start === end ? `${start}` : `${start}–${end}`);
    start = s[i]!;
  }
  return runs.length > 6 ? `${runs.slice(0, 6).join(', ')} … (${runs.length} runs)` : runs.join(', ');
}
