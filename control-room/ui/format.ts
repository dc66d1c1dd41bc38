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
