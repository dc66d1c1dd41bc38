// The module's one connection to Gala: the live channel (topics control, totals, health, graphics, through the
// protocol's LiveClient, producer token on the upgrade) kept as the latest state of each, and the control API's
// requests, each naming the operator for the audit.
import WebSocket from 'ws';
import type { ControlState } from '../protocol/control-state.ts';
import { LIVE_PATH, LiveClient, type GraphicName, type GraphicState, type HealthData, type SocketLike, type TotalsData } from '../protocol/live-protocol.ts';
import type { GalaTarget } from './config.ts';

/** What the buttons show: the latest of each topic (null until its snapshot), and the link. */
export interface GalaView {
  control: ControlState | null;
  totals: TotalsData | null;
  health: HealthData | null;
  graphics: Partial<Record<GraphicName, GraphicState>>;
  link: 'connecting' | 'open' | 'closed';
}

export type ViewPart = 'control' | 'totals' | 'health' | 'graphics' | 'link';

const REQUEST_TIMEOUT_MS = 5000;

/** A request Gala answered with an error: its status and its `{error}` (a 409 is a refusal, e.g. a double GO). */
export class GalaRequestError extends Error {
  override name = 'GalaRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class GalaLink {
  readonly view: GalaView = { control: null, totals: null, health: null, graphics: {}, link: 'connecting' };
  private readonly live: LiveClient;

  constructor(
    private readonly target: GalaTarget,
    private readonly onChange: (part: ViewPart, detail?: string) => void,
  ) {
    const url = `${target.origin.replace(/^http/, 'ws')}${LIVE_PATH}`;
    this.live = new LiveClient({
      url,
      // The token goes in a header, not in the URL, so that it never reaches a proxy's access log.
      connect: (u) => new WebSocket(u, { headers: { authorization: `Bearer ${target.token}` } }) as unknown as SocketLike,
      maxBackoffMs: 5000,
    });
    this.live.onStatus((status, detail) => {
      this.view.link = status;
      this.onChange('link', detail);
    });
    this.live.subscribe('control', (m) => {
      this.view.control = m.data;
      this.onChange('control');
    });
    this.live.subscribe('totals', (m) => {
      this.view.totals = m.data;
      this.onChange('totals');
    });
    this.live.subscribe('health', (m) => {
      this.view.health = m.data;
      this.onChange('health');
    });
    this.live.subscribe('graphics', (m) => {
      // The snapshot holds every graphic, an update one of them.
      if (m.type === 'snapshot') this.view.graphics = { ...m.data.graphics };
      else this.view.graphics[m.data.name] = m.data;
      this.onChange('graphics');
    });
  }

  start(): void {
    this.live.start();
  }

  stop(): void {
    this.live.stop();
  }

  /** POSTs to Gala (no body: a button's fixed request); resolves with the answer, throws GalaRequestError. */
  post(path: string, body?: object): Promise<unknown> {
    return this.request('POST', path, body);
  }

  get(path: string): Promise<unknown> {
    return this.request('GET', path);
  }

  private async request(method: string, path: string, body?: object): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.target.token}`, 'x-operator': this.target.operator };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.target.origin}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw new GalaRequestError(0, `${method} ${path}: Gala did not answer (${(e as Error).message})`);
    }
    const text = await res.text();
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the message
    }
    if (!res.ok) {
      const error = typeof answer === 'object' && answer !== null && typeof (answer as { error?: unknown }).error === 'string' ? (answer as { error: string }).error : text.slice(0, 200);
      throw new GalaRequestError(res.status, `${res.status}: ${error}`);
    }
    return answer;
  }
}
