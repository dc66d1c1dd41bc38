// Data-triggered cues: a producer arms a condition on the live data (GMV, orders, mobile share, a product's units)
// for a cue; every totals or product update evaluates the armed ones, and each fires its cue once.
import type { TriggerView } from '../protocol/control-state.ts';
export type { TriggerView } from '../protocol/control-state.ts';
import { formatHundredths } from '../domain/money.ts';
import type { TriggerCondition } from '../domain/rundown.ts';
import { ControlError } from './control-error.ts';

/** The live figures conditions are checked against. */
export interface TriggerValues {
  gmvHundredths: bigint;
  orders: number;
  mobileShare: number;
  /** Units sold of a product, when known (fetched once a second for watched SKUs). */
  productUnits: (sku: string) => number | undefined;
}


interface Armed {
  cueId: string;
  condition: TriggerCondition;
  armedBy: string;
  armedAt: number;
  firedAt: number | null;
}

const MAX_TRIGGERS = 200;

function hundredthsOf(decimal: string): bigint {
  const [whole, frac = ''] = decimal.split('.');
  return BigInt(whole!) * 100n + BigInt(frac.padEnd(2, '0'));
}

/** The metric's value now (null when not known yet) and whether the condition holds. */
export function measure(c: TriggerCondition, v: TriggerValues): { current: string | null; met: boolean; progress: number } {
  switch (c.metric) {
    case 'gmv': {
      const t = hundredthsOf(c.atLeast);
      const p = t === 0n ? 1 : Number((v.gmvHundredths * 10_000n) / t) / 10_000;
      return { current: formatHundredths(v.gmvHundredths), met: v.gmvHundredths >= t, progress: Math.min(1, p) };
    }
    case 'orders': {
      const t = Number(c.atLeast);
      return { current: String(v.orders), met: v.orders >= t, progress: t === 0 ? 1 : Math.min(1, v.orders / t) };
    }
    case 'mobileShare': {
      const t = Number(c.atLeast);
      return { current: v.mobileShare.toFixed(4), met: v.mobileShare >= t, progress: t === 0 ? 1 : Math.min(1, v.mobileShare / t) };
    }
    case 'productUnits': {
      const units = v.productUnits(c.sku!);
      const t = Number(c.atLeast);
      if (units === undefined) return { current: null, met: false, progress: 0 };
      return { current: String(units), met: units >= t, progress: t === 0 ? 1 : Math.min(1, units / t) };
    }
  }
}

export class DataTriggers {
  private readonly armed = new Map<string, Armed>();

  constructor(
    private readonly opts: {
      /** Fires the cue; a throw (e.g. the cue was deleted) is reported and the trigger still counts as fired. */
      fire: (cueId: string, armedBy: string, condition: TriggerCondition) => void;
      onChange: () => void;
      now?: () => number;
    },
  ) {}

  private get now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Arms a cue's condition. A condition already met is refused (409) rather than fired at once: arming must never
   * put something on air by surprise.
   */
  arm(cueId: string, condition: TriggerCondition, armedBy: string, values: TriggerValues): TriggerView {
    if (!this.armed.has(cueId) && this.armed.size >= MAX_TRIGGERS) throw new ControlError(409, `trigger: at most ${MAX_TRIGGERS} triggers armed at once`);
    const m = measure(condition, values);
    if (m.met) throw new ControlError(409, `trigger: ${condition.metric} is already ${m.current}, at or over ${condition.atLeast}; fire the cue by hand instead`);
    const a: Armed = { cueId, condition, armedBy, armedAt: this.now, firedAt: null };
    this.armed.set(cueId, a);
    this.opts.onChange();
    return this.view(a, values);
  }

  disarm(cueId: string): void {
    if (!this.armed.delete(cueId)) throw new ControlError(404, `trigger: no trigger armed for cue "${cueId}"`);
    this.opts.onChange();
  }

  /** Forgets a cue's trigger (the cue was deleted). */
  forget(cueId: string): void {
    if (this.armed.delete(cueId)) this.opts.onChange();
  }

  /** Products whose units some armed trigger waits for. */
  skus(): string[] {
    const out = new Set<string>();
    for (const a of this.armed.values()) if (a.firedAt === null && a.condition.sku !== undefined) out.add(a.condition.sku);
    return [...out];
  }

  get pending(): number {
    let n = 0;
    for (const a of this.armed.values()) if (a.firedAt === null) n++;
    return n;
  }

  /** Fires every armed trigger whose condition now holds, once each. Returns the cues fired. */
  evaluate(values: TriggerValues): string[] {
    const fired: string[] = [];
    for (const a of this.armed.values()) {
      if (a.firedAt !== null || !measure(a.condition, values).met) continue;
      a.firedAt = this.now;
      fired.push(a.cueId);
      try {
        this.opts.fire(a.cueId, a.armedBy, a.condition);
      } catch {
        // The cue could not start (deleted, too many running): the trigger still fired once; the audit says why.
      }
    }
    if (fired.length > 0) this.opts.onChange();
    return fired;
  }

  list(values: TriggerValues): TriggerView[] {
    return [...this.armed.values()].map((a) => this.view(a, values));
  }

  private view(a: Armed, values: TriggerValues): TriggerView {
    const m = measure(a.condition, values);
    return {
      cueId: a.cueId,
      condition: a.condition,
      state: a.firedAt === null ? 'armed' : 'fired',
      armedBy: a.armedBy,
      armedAt: new Date(a.armedAt).toISOString(),
      firedAt: a.firedAt === null ? null : new Date(a.firedAt).toISOString(),
      current: m.current,
      progress: m.progress,
      willFire: a.firedAt === null && m.met,
    };
  }
}
