// The figures link between cluster nodes (`/v1/cluster/link` on the ingest port): what a node streams to each peer
// that subscribes. Every message carries latest state, never a delta, so a slow subscriber can skip to the newest
// and a resubscription repeats nothing twice. Browser-safe: types and one parser, nothing server-side.
import type { ControlState } from './control-state.ts';
import type { GraphicName, GraphicState, LeaderboardsData, MilestoneData } from './live-protocol.ts';

export const CLUSTER_LINK_PATH = '/v1/cluster/link';

/**
 * Node to node over HTTP: a node passing a browser's control-room request on to the coordinator presents the ingest
 * token in this header (never in one a client could have set: the passing node drops both headers first)...
 */
export const PEER_TOKEN_HEADER = 'x-gala-peer-token';
/** ...and the host the browser addressed on that node, which the coordinator's same-origin check then holds to. */
export const PEER_HOST_HEADER = 'x-gala-peer-host';

/** The body of GET /v1/cluster (public): the cluster as the answering node sees it. */
export interface ClusterView {
  clickhouseCluster: string;
  /** The answering node. */
  self: string;
  /** nodes[0]: it holds the control state and records the milestones. */
  coordinator: string;
  partitions: number;
  mapping: { fingerprint: string; reference: string; partition: string; owner: string };
  nodes: ClusterViewNode[];
}

export interface ClusterViewNode {
  id: string;
  host: string;
  httpPort: number;
  ingestPort: number;
  ingest: string;
  coordinator: boolean;
  /** The partitions it owns, ascending. */
  partitions: number[];
  /** As the answering node sees it: `up` reachable, `down` its link failed, `unknown` not tried yet. */
  state: 'up' | 'down' | 'unknown';
  stateSince?: string;
  stateReason?: string;
}

/** Exact figures of one set of orders: per currency the hundredths (all channels, and mobile) as integer strings. */
export interface FiguresWire {
  orders: number;
  mobileOrders: number;
  currencies: Record<string, { amount: string; mobile: string; orders: number }>;
}

/**
 * A node's own partitions, cumulative. `run` (the node's start, epoch ms) and `seq` order them: a receiver keeps a
 * node's figures until a message with a higher (run, seq) arrives. `asOf` (epoch ms): the figures hold every order
 * the node committed before it. `full`: `seconds` is every paid-at second the node holds (replace them all);
 * otherwise it lists the seconds changed since the last message, each with its cumulative figures.
 */
export interface FiguresMessage {
  type: 'figures';
  node: string;
  run: number;
  seq: number;
  asOf: number;
  full: boolean;
  total: FiguresWire;
  seconds: { second: number; figures: FiguresWire }[];
}

/** Nothing changed: the node's figures of (run, seq) still hold as of `asOf`. */
export interface BeatMessage {
  type: 'beat';
  node: string;
  run: number;
  seq: number;
  asOf: number;
}

/** From the coordinator: every milestone recorded so far (a receiver publishes each id it has not seen, once). */
export interface MilestonesMessage {
  type: 'milestones';
  milestones: MilestoneData[];
}

/** From the coordinator: the cluster's one control state. */
export interface ControlMessage {
  type: 'control';
  at: string;
  state: ControlState;
}

/** From the coordinator: every graphic's state. */
export interface GraphicsMessage {
  type: 'graphics';
  graphics: Record<GraphicName, GraphicState>;
}

/**
 * From the coordinator: the leaderboards it read over the Distributed tables (`at`, epoch ms, when that read ended).
 * The other nodes serve these instead of making the same reads themselves, for as long as the coordinator is heard.
 */
export interface BoardsMessage {
  type: 'boards';
  at: number;
  boards: LeaderboardsData;
}

export type ClusterMessage = FiguresMessage | BeatMessage | MilestonesMessage | ControlMessage | GraphicsMessage | BoardsMessage;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isHundredths = (v: unknown): v is string => typeof v === 'string' && /^-?\d{1,30}$/.test(v);

function checkFigures(v: unknown, at: string): FiguresWire {
  if (!isObject(v) || !isInt(v.orders) || !isInt(v.mobileOrders) || !isObject(v.currencies)) throw new Error(`${at}: must be {orders, mobileOrders, currencies}`);
  for (const [c, x] of Object.entries(v.currencies)) {
    if (!isObject(x) || !isHundredths(x.amount) || !isHundredths(x.mobile) || !isInt(x.orders)) throw new Error(`${at}.currencies.${c}: must be {amount, mobile: integer strings, orders: integer}`);
  }
  return v as unknown as FiguresWire;
}

/** Parses one link frame; throws an Error naming the field and the rule. */
export function parseClusterMessage(text: string): ClusterMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('cluster link: a frame must be JSON');
  }
  if (!isObject(v)) throw new Error('cluster link: a frame must be a JSON object');
  switch (v.type) {
    case 'figures':
    case 'beat':
      if (typeof v.node !== 'string' || !isInt(v.run) || !isInt(v.seq) || !isInt(v.asOf)) throw new Error(`${v.type}: node (string), run, seq and asOf (integers) are required`);
      if (v.type === 'beat') return v as unknown as BeatMessage;
      if (typeof v.full !== 'boolean' || !Array.isArray(v.seconds)) throw new Error('figures: full (boolean) and seconds (array) are required');
      checkFigures(v.total, 'figures.total');
      for (const s of v.seconds as unknown[]) {
        if (!isObject(s) || !isInt(s.second)) throw new Error('figures.seconds[]: second must be an integer');
        checkFigures(s.figures, `figures.seconds[${s.second}]`);
      }
      return v as unknown as FiguresMessage;
    case 'milestones':
      if (!Array.isArray(v.milestones)) throw new Error('milestones: milestones must be an array');
      return v as unknown as MilestonesMessage;
    case 'control':
      if (typeof v.at !== 'string' || !isObject(v.state)) throw new Error('control: at (string) and state (object) are required');
      return v as unknown as ControlMessage;
    case 'graphics':
      if (!isObject(v.graphics)) throw new Error('graphics: graphics must be an object');
      return v as unknown as GraphicsMessage;
    case 'boards': {
      const b = v.boards;
      if (!isInt(v.at) || !isObject(b) || typeof b.minute !== 'string') throw new Error('boards: at (integer) and boards {minute, brands, products, regions} are required');
      for (const kind of ['brands', 'products', 'regions'] as const) {
        const k = b[kind];
        if (!isObject(k) || !Array.isArray(k.night) || !Array.isArray(k.minute)) throw new Error(`boards.boards.${kind}: must be {night: [], minute: []}`);
      }
      return v as unknown as BoardsMessage;
    }
    default:
      throw new Error(`cluster link: type must be figures, beat, milestones, control, graphics or boards, got ${JSON.stringify(v.type)}`);
  }
}
