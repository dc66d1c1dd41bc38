// The control room's audit: every action (who, role, how authenticated, what, when, result) appended to a JSONL
// file in the data directory and synced before the action is answered, so it survives a restart or a crash;
// the recent part is kept in memory for viewing and CSV export.
import { open, type FileHandle } from 'node:fs/promises';
import { toCsv } from '../aggregator/csv.ts';
import type { AuditEntry } from '../protocol/control-state.ts';

export type { AuditEntry, AuditResult, AuditVia } from '../protocol/control-state.ts';

export type AuditInput = Omit<AuditEntry, 'seq' | 'at'>;

export interface AuditQuery {
  limit?: number;
  /** Entries with seq greater than this. */
  after?: number;
  operator?: string;
  action?: string;
}

export interface AuditLogOptions {
  /** Entries kept in memory for the API (default 20,000: far more than a night's actions). */
  keep?: number;
  /** Bytes read back from the end of the file at start (default 16 MiB). */
  maxReadBytes?: number;
  /** Writes waiting for the disk at most; past it entries are still kept in memory but counted as unwritten. */
  maxPending?: number;
  now?: () => number;
}

export const AUDIT_FILE = 'control-audit.jsonl';
export const AUDIT_CSV_COLUMNS = ['seq', 'at', 'operator', 'role', 'via', 'action', 'target', 'result', 'status', 'detail'] as const;

export class AuditLog {
  private readonly entries: AuditEntry[] = [];
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Entries that could not be written (disk error or too many waiting); reported in the control state. */
  unwritten = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly opts: Required<Omit<AuditLogOptions, 'now'>> & { now: () => number },
  ) {}

  /** Opens (or creates) the log file and reads back its most recent entries. */
  static async open(path: string, options: AuditLogOptions = {}): Promise<AuditLog> {
    const opts = { keep: 20_000, maxReadBytes: 16 * 1024 * 1024, maxPending: 10_000, now: Date.now, ...options };
    const file = await open(path, 'a+');
    const log = new AuditLog(file, opts);
    const { size } = await file.stat();
    const start = Math.max(0, size - opts.maxReadBytes);
    const buf = Buffer.alloc(size - start);
    if (buf.length > 0) await file.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const e = JSON.parse(line) as AuditEntry;
        if (typeof e.seq !== 'number') continue;
        log.keep(e);
        log.seq = Math.max(log.seq, e.seq);
      } catch {
        // A line cut short by a crash: what follows it is still read.
      }
    }
    // A crash may have left a line without its end: start the next entry on a line of its own.
    if (size > 0 && buf.length > 0 && buf[buf.length - 1] !== 0x0a) await file.appendFile('\n');
    return log;
  }

  /** Records an entry; resolves once it is on disk (or once writing it has failed, which is counted). */
  record(input: AuditInput): Promise<AuditEntry> {
    const entry: AuditEntry = { seq: ++this.seq, at: new Date(this.opts.now()).toISOString(), ...input };
    this.keep(entry);
    if (this.pending >= this.opts.maxPending) {
      this.unwritten++;
      return Promise.resolve(entry);
    }
    this.pending++;
    const line = `${JSON.stringify(entry)}\n`;
    const written = this.chain.then(async () => {
      try {
        await this.file.appendFile(line);
        await this.file.datasync();
      } catch {
        this.unwritten++;
      } finally {
        this.pending--;
      }
    });
    this.chain = written;
    return written.then(() => entry);
  }

  list(q: AuditQuery = {}): AuditEntry[] {
    const limit = Math.min(q.limit ?? 500, this.opts.keep);
    const out: AuditEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.entries[i]!;
      if (q.after !== undefined && e.seq <= q.after) break;
      if (q.operator !== undefined && e.operator !== q.operator) continue;
      if (q.action !== undefined && e.action !== q.action) continue;
      out.push(e);
    }
    return out.reverse();
  }

  get lastSeq(): number {
    return this.seq;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.file.close();
  }

  private keep(e: AuditEntry): void {
    this.entries.push(e);
    if (this.entries.length > this.opts.keep * 1.25) this.entries.splice(0, this.entries.length - this.opts.keep);
  }
}

/** The audit as CSV (RFC 4180, BOM, formula-safe operator names and details). */
export function auditCsv(entries: readonly AuditEntry[]): string {
  return toCsv(
    AUDIT_CSV_COLUMNS,
    entries.map((e) => [e.seq, e.at, e.operator, e.role, e.via, e.action, e.target, e.result, e.status, e.detail]),
    ['operator', 'action', 'target', 'detail'],
  );
}
