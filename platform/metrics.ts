// Prometheus metrics through prom-client, behind the small facade the roles use: counters and histograms they
// update, gauges read at scrape time, and one registry per running system. prom-client replaced a hand-written
// registry (kept in bench/hand-written-registry.ts): on the ingest hot path at 100,000 orders/s it costs 0.02% of a
// core against 0.03% (npm run bench:metrics), and its text exposition is maintained and widely scraped.
import * as prom from 'prom-client';

export type Labels = Record<string, string>;

export class Counter {
  constructor(private readonly c: prom.Counter) {}
  inc(by = 1, labels?: Labels): void {
    if (labels === undefined) this.c.inc(by);
    else this.c.inc(labels, by);
  }
}

export class Histogram {
  constructor(private readonly h: prom.Histogram) {}
  observe(v: number, labels?: Labels): void {
    if (labels === undefined) this.h.observe(v);
    else this.h.observe(labels, v);
  }
}

export class Registry {
  // Each system has its own registry, never prom-client's global one: tests start several systems in one process.
  private readonly reg = new prom.Registry();
  readonly contentType = prom.Registry.PROMETHEUS_CONTENT_TYPE;

  /** A counter the caller increments; every label it is given must be named in labelNames. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return new Counter(new prom.Counter({ name, help, labelNames, registers: [this.reg] }));
  }

  /** A gauge read at scrape time; null reads as no sample (the family shows no value). */
  gauge(name: string, help: string, read: () => number | null): void {
    new prom.Gauge({
      name,
      help,
      registers: [this.reg],
      collect() {
        const v = read();
        if (v === null) this.remove();
        else this.set(v);
      },
    });
  }

  /** A gauge read at scrape time from something that must be asked (a query); null, or a failure, reads as no sample. */
  gaugeAsync(name: string, help: string, read: () => Promise<number | null>): void {
    new prom.Gauge({
      name,
      help,
      registers: [this.reg],
      async collect() {
        const v = await read().catch(() => null);
        if (v === null) this.remove();
        else this.set(v);
      },
    });
  }

  /** A gauge family read at scrape time, one sample per label set (e.g. parts per table). */
  gauges(name: string, help: string, labelNames: readonly string[], read: () => Iterable<readonly [Labels, number]>): void {
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers: [this.reg],
      collect() {
        this.reset();
        for (const [labels, v] of read()) this.set(labels, v);
      },
    });
  }

  /**
   * A counter kept elsewhere (the engine's merges since it started), read at scrape time: exposed with the counter
   * type, so rate() reads it right; null reads as no sample.
   */
  counterReading(name: string, help: string, read: () => number | null): void {
    new prom.Counter({
      name,
      help,
      registers: [this.reg],
      collect() {
        const v = read();
        this.reset();
        if (v === null) this.remove();
        else this.inc(v);
      },
    });
  }

  /** A histogram; every label an observation is given must be named in labelNames. */
  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return new Histogram(new prom.Histogram({ name, help, buckets: [...buckets], labelNames, registers: [this.reg] }));
  }

  /** The Prometheus text exposition of every metric (asynchronous: prom-client's collect callbacks may await). */
  render(): Promise<string> {
    return this.reg.metrics();
  }
}
