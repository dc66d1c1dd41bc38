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
  /** How an id maps to its owner; with replication `shard` too, and the owner is the shard's lease holder. */
  mapping: { fingerprint: string; reference: string; partition: string; shard?: string; owner: string };
  nodes: ClusterViewNode[];
  /** Replication only: every shard's lease as this node sees it, by shard number. */
  shards?: ClusterShardView[];
  /** Replication only: the last change of a shard's owner this node knows of; null before any. */
  lastTakeover?: TakeoverView | null;
}

/** A replicated shard: its lease holder (null while vacant), the lease's epoch, and whether the holder acks yet. */
export interface ClusterShardView {
  shard: number;
  owner: string | null;
  epoch: number;
  /** The holder has rebuilt from its replica and acks; false while it rebuilds (its partitions answer unavailable). */
  serving: boolean;
  since: string | null;
  /** The shard's partitions (partition mod shards + 1 = shard), ascending. */
  partitions: number[];
  /** The nodes on a replica of it, the preferred owner first. */
  nodes: string[];
}

/** A node's ClickHouse replica: how far behind its shard it is. */
export interface ReplicaView {
  /** Seconds behind the freshest replica (system.replicas absolute_delay, the largest over the tables); null: unknown. */
  delaySeconds: number | null;
  /** Replication tasks waiting (system.replicas queue_size, summed). */
  queueSize?: number;
  /** The replica refuses inserts (its ZooKeeper session is gone). */
  readonly?: boolean;
}

export interface TakeoverView {
  shard: number;
  /** The previous holder; null when the shard was vacant. */
  from: string | null;
  to: string;
  epoch: number;
  /** When the new holder started acking (ISO 8601). */
  at: string;
  /** From the old holder's loss (or the claim) to the new holder's first ack. */
  tookMs: number;
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
  /** Replication only: the shard whose replica this node writes to. */
  shard?: number;
  /** Replication only: its replica's lag; null when this node cannot tell. */
  replica?: ReplicaView | null;
  /** Replication only: its ZooKeeper state as this node sees it (this node: its session; a peer: its membership). */
  zookeeper?: string;
}

/**
 * A smart client's owner map from a GET /v1/cluster body: the id of the node committing each partition now, or null
 * when nobody serves it (a takeover under way: any node answers its orders `unavailable`). Unreplicated: nodes[p mod
 * N]. Replicated: the holder of shard (p mod S) + 1's lease while it serves. A client answered `unavailable` reads the
 * map again (owners change at takeover).
 */
export function ownersOfView(view: Pick<ClusterView, 'nodes' | 'shards'>): (partition: number) => string | null {
  const { nodes, shards } = view;
  if (shards === undefined) return (p) => nodes[p % nodes.length]!.id;
  return (p) => {
    const s = shards[p % shards.length]!;
    return s.serving ? s.owner : null;
  };
}

/** Exact figures of one set of orders: per currency the hundredths (all channels, and mobile) as integer strings. */
export interface FiguresWire {
  orders: number;
  mobileOrders: number;
  currencies: Record<string, { amount: string; mobile: string; orders: number }>;
}

/**
 * A node's own partitions, cumulative. They are the figures of one slot: `slot` (default: `node`) is the node itself
 * without replication, and `shard:<s>` with replication, published only by the holder of shard s's lease, at that
 * lease's `epoch` (default 0). `epoch`, `run` (the node's start, epoch ms) and `seq` order them: a receiver keeps a
 * slot's figures until a message with a higher (epoch, run, seq) arrives. `asOf` (epoch ms): the figures hold every order
 * the node committed before it. `full`: `seconds` is every paid-at second the node holds (replace them all);
 * otherwise it lists the seconds changed since the last message, each with its cumulative figures.
 */
export interface FiguresMessage {
  type: 'figures';
  node: string;
  slot?: string;
  epoch?: number;
  run: number;
  seq: number;
  asOf: number;
  full: boolean;
  total: FiguresWire;
  seconds: { second: number; figures: FiguresWire }[];
}

/**
 * Nothing changed: the node's figures of (slot, epoch, run, seq) still hold as of `asOf`. A node that publishes no
 * figures (a standby, holding no lease) beats without a slot: it is alive, and vouches for no figures.
 */
export interface BeatMessage {
  type: 'beat';
  node: string;
  slot?: string;
  epoch?: number;
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
      if (v.slot !== undefined && (typeof v.slot !== 'string' || v.slot === '')) throw new Error(`${v.type}.slot: must be a non-empty string when given`);
      if (v.epoch !== undefined && (!isInt(v.epoch) || v.epoch < 0)) throw new Error(`${v.type}.epoch: must be an integer >= 0 when given`);
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
