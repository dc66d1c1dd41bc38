// On a cluster node other than the coordinator: is a control-room session cookie live? The coordinator holds every
// session (logins are passed to it), so this node asks it (GET /v1/control/session with the cookie) and remembers
// the answer briefly, so that a desk's page loads and live-channel reconnects do not each cost a round trip. The
// memory is bounded (oldest answers go first), as are the questions in flight; past that bound, or with the
// coordinator unreachable, the answer is no: a page goes to the login, which then says why.
import { createHash } from 'node:crypto';
import { sessionCookieName } from '../control-room/control-auth.ts';
import type { SessionCheck } from '../control-room/sessions.ts';
import { httpHostOf, type ClusterNode } from '../domain/cluster-map.ts';
import type { Log } from '../platform/log.ts';
import { PEER_HOST_HEADER, PEER_TOKEN_HEADER } from '../protocol/cluster-protocol.ts';

/** Session ids are 32 random bytes in base64url; anything else is no session and is never sent on. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,100}$/;

export interface RemoteSessionsOptions {
  coordinator: ClusterNode;
  /** The ingest token this node presents to the coordinator. */
  token: string;
  /** This node's own host:port, as the coordinator is told a passed-on request addressed. */
  selfHost: string;
  log: Log;
  /** How long a live session is taken as live without asking again (default 5 s; a logout elsewhere waits this). */
  liveForMs?: number;
  /** How long a refused one stays refused (default 1 s). */
  refusedForMs?: number;
  /** Answers remembered (default 1000). */
  maxEntries?: number;
  /** Questions to the coordinator at once (default 32). */
  maxInFlight?: number;
  timeoutMs?: number;
  now?: () => number;
}

export class RemoteSessions {
  private readonly answers = new Map<string, { live: boolean; until: number }>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly base: string;
  private readonly now: () => number;
  /** Questions actually sent to the coordinator (the cache's effect, for tests and metrics). */
  asked = 0;

  constructor(private readonly opts: RemoteSessionsOptions) {
    this.base = `http://${httpHostOf(opts.coordinator)}`;
    this.now = opts.now ?? Date.now;
  }

  /** The SessionCheck for the control room's pages and live channel. */
  readonly check: SessionCheck = (id, https) => {
    if (!SESSION_ID.test(id)) return false;
    // Kept by digest: the memory never holds a usable session id.
    const key = createHash('sha256').update(`${https ? 's' : 'p'}:${id}`).digest('base64url');
    const known = this.answers.get(key);
    if (known !== undefined && known.until > this.now()) return known.live;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    if (this.inFlight.size >= (this.opts.maxInFlight ?? 32)) return false;
    const asking = this.ask(id, https).then((live) => {
      this.inFlight.delete(key);
      if (live !== null) this.remember(key, live);
      return live === true;
    });
    this.inFlight.set(key, asking);
    return asking;
  };

  get size(): number {
    return this.answers.size;
  }

  /** The coordinator's answer, or null when it gave none (unreachable, or not a yes or no). */
  private async ask(id: string, https: boolean): Promise<boolean | null> {
    this.asked++;
    const headers: Record<string, string> = {
      cookie: `${sessionCookieName(https)}=${id}`,
      accept: 'application/json',
      [PEER_TOKEN_HEADER]: this.opts.token,
      [PEER_HOST_HEADER]: this.opts.selfHost,
    };
    if (https) headers['x-forwarded-proto'] = 'https';
    try {
      const r = await fetch(`${this.base}/v1/control/session`, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000) });
      await r.arrayBuffer();
      if (r.status === 200) return true;
      if (r.status === 401) return false;
      this.opts.log('cluster.session_check_failed', { coordinator: this.opts.coordinator.id, status: r.status });
      return null;
    } catch (e) {
      this.opts.log('cluster.session_check_failed', { coordinator: this.opts.coordinator.id, error: String(e) });
      return null;
    }
  }

  private remember(key: string, live: boolean): void {
    this.answers.delete(key);
    while (this.answers.size >= (this.opts.maxEntries ?? 1000)) this.answers.delete(this.answers.keys().next().value as string);
    this.answers.set(key, { live, until: this.now() + (live ? (this.opts.liveForMs ?? 5000) : (this.opts.refusedForMs ?? 1000)) });
  }
}
