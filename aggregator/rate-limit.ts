// Per-client rate limit of the public feed: a token bucket per client address, answered with the IETF
// RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers) and Retry-After on 429.
import type { HttpAnswer } from '../platform/http-answer.ts';

export interface RateLimitOptions {
  /** Requests a client may make per second, sustained; 0 turns the limit off. */
  perSecond: number;
  /** Requests a client may make at once (bucket size). */
  burst: number;
  /** Most clients tracked; past it the longest idle are forgotten (default 100,000). */
  maxClients?: number;
  now?: () => number;
}

export interface RateDecision {
  allowed: boolean;
  /** Header fields to send with the answer (allowed or not). */
  headers: Readonly<Record<string, string>>;
  /** Seconds until a refused client may try again. */
  retryAfterSeconds: number;
}

/** The decision of a limiter that is turned off: every request passes, with no fields to send. */
export const UNLIMITED: RateDecision = Object.freeze({ allowed: true, headers: Object.freeze({}), retryAfterSeconds: 0 });

/** The 429 of every rate-limited endpoint, HTTP or live-channel upgrade: the decision's fields, never cached. */
export function tooManyRequests(d: RateDecision): HttpAnswer {
  return {
    status: 429,
    headers: { ...d.headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    body: JSON.stringify({ error: `rate limit: too many requests from this client; retry after ${d.retryAfterSeconds} s` }),
  };
}

interface Bucket {
  tokens: number;
  at: number;
}

const POLICY = 'public';

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly max: number;
  private readonly policy: string;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(opts.perSecond >= 0) || !(opts.burst >= 1)) throw new RangeError('rate limit: perSecond must be >= 0 and burst >= 1');
    this.now = opts.now ?? Date.now;
    this.max = opts.maxClients ?? 100_000;
    // q requests per window w seconds: the window is the time an empty bucket takes to fill.
    this.policy = `"${POLICY}";q=${opts.burst};w=${Math.max(1, Math.ceil(opts.burst / Math.max(opts.perSecond, 1e-9)))}`;
  }

  get enabled(): boolean {
    return this.opts.perSecond > 0;
  }

  /** Takes one request from the client's bucket. */
  take(client: string): RateDecision {
    if (!this.enabled) return UNLIMITED;
    const t = this.now();
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= this.max) this.evict(t);
      b = { tokens: this.opts.burst, at: t };
    } else {
      b.tokens = Math.min(this.opts.burst, b.tokens + ((t - b.at) / 1000) * this.opts.perSecond);
      b.at = t;
      // Re-insert so the map's order stays least-recently-used first.
      this.buckets.delete(client);
    }
    this.buckets.set(client, b);
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    const remaining = Math.floor(b.tokens);
    const untilOne = allowed ? 0 : Math.ceil((1 - b.tokens) / this.opts.perSecond);
    const untilFull = Math.ceil((this.opts.burst - b.tokens) / this.opts.perSecond);
    const headers: Record<string, string> = {
      'RateLimit-Policy': this.policy,
      RateLimit: `"${POLICY}";r=${remaining};t=${allowed ? untilFull : untilOne}`,
    };
    if (!allowed) headers['Retry-After'] = String(Math.max(1, untilOne));
    return { allowed, headers, retryAfterSeconds: Math.max(1, untilOne) };
  }

  get clients(): number {
    return this.buckets.size;
  }

  private evict(t: number): void {
    // Full buckets carry no state worth keeping; then the least recently used go.
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.opts.perSecond >= this.opts.burst) this.buckets.delete(k);
    }
    const excess = this.buckets.size - Math.floor(this.max * 0.9);
    if (excess <= 0) return;
    let n = 0;
    for (const k of this.buckets.keys()) {
      if (n++ >= excess) break;
      this.buckets.delete(k);
    }
  }
}
