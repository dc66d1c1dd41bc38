// Sends simulated batches to the nodes of a cluster, one ingest client (bounded window) per node. `owner` splits each
// batch by the partition map and sends every order straight to the node that owns it (the smart client GET
// /v1/cluster is published for: no forwarding hop); `any` sends each whole batch to the next node in turn, which
// forwards the orders it does not own. Given the cluster's published map (GET /v1/cluster), `owner` follows its
// current owners (a replicated cluster's change at takeover), reads it again after an `unavailable` or a lost
// connection, and sends what a node whose connection is down owns to another node meanwhile.
import { ownerIndexOf, partitionOf, type ClusterFile } from '../domain/cluster-map.ts';
import { ownersOfView, type ClusterView } from '../protocol/cluster-protocol.ts';
import { createIngestClient, type ConnectionEvent, type IngestClient, type IngestCounters } from './ingest-client.ts';
import type { SimOrder } from './simulator.ts';

export type ClusterSendMode = 'owner' | 'any';
export const CLUSTER_SEND_MODES: readonly ClusterSendMode[] = ['owner', 'any'];

export interface ClusterSenderOptions {
  cluster: Pick<ClusterFile, 'nodes' | 'partitions'>;
  token: string;
  mode: ClusterSendMode;
  /** Batches in flight per node. Default 8. */
  window?: number;
  onConnection?: (nodeId: string, event: ConnectionEvent) => void;
  /**
   * Reads the cluster's published map (GET /v1/cluster of any node). Given, `owner` sends by its current owners,
   * read at ready() and again after every `unavailable` answer; without it, by the file's static map.
   */
  map?: () => Promise<ClusterView>;
}

export interface ClusterSender {
  /** One client per node, in the file's order. */
  readonly clients: readonly { id: string; client: IngestClient }[];
  /** Every client's counters added up. */
  counters(): IngestCounters;
  readonly inFlight: number;
  /** Resolves once every node's connection is open. */
  ready(): Promise<void>;
  /**
   * Sends the orders (1 to 10,000) as one batch (`any`) or one sub-batch per owner, `<batchId>.<node id>` (`owner`);
   * resolves when every part has entered its node's window.
   */
  send(batchId: string, orders: readonly SimOrder[]): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** The id at the head of an order's JSON text as the simulator writes it; null for an order with no usable id. */
const ID_AT_HEAD = /^\{"id":"([A-Za-z0-9._:-]{1,64})"/;

export function createClusterSender(opts: ClusterSenderOptions): ClusterSender {
  const { nodes, partitions } = opts.cluster;
  /** Each partition's owner (node index; -1: nobody serves it now) from the published map; null: the file's map. */
  let published: Int32Array | null = null;
  let reading: Promise<void> | null = null;
  const readMap = (): Promise<void> => {
    const map = opts.map;
    if (map === undefined) return Promise.resolve();
    reading ??= map()
      .then((view) => {
        const ownerOf = ownersOfView(view);
        const index = new Map(nodes.map((n, i) => [n.id, i]));
        const table = new Int32Array(partitions);
        for (let p = 0; p < partitions; p++) table[p] = index.get(ownerOf(p) ?? '') ?? -1;
        published = table;
      })
      .catch(() => {
        // The node asked is down: the map held stays until the next unavailable asks again.
      })
      .finally(() => {
        reading = null;
      });
    return reading;
  };
  const clients = nodes.map((n) => ({
    id: n.id,
    client: createIngestClient({
      url: `ws://${n.host}:${n.ingestPort}/v1/ingest`,
      token: opts.token,
      window: opts.window ?? 8,
      onConnection: (e) => {
        // A node gone (killed, restarted): its shard may be changing hands, so the owners are read again.
        if (e.type === 'close') void readMap();
        opts.onConnection?.(n.id, e);
      },
      onFrameError: (e) => {
        if (e.error === 'unavailable') void readMap();
      },
    }),
  }));
  const ownerIndex = (id: string): number => {
    const p = partitionOf(id, partitions);
    if (published === null) return ownerIndexOf(p, nodes.length);
    const o = published[p]!;
    // Nobody serves it now, or its owner's connection is down: a node that answers takes it (it forwards it to the
    // owner, or answers it unavailable and the client resends it there), and the stream does not wait on a dead node.
    return o < 0 || !clients[o]!.client.connected ? nextConnected() : o;
  };
  let turn = 0;
  const next = (): number => (turn = (turn + 1) % nodes.length);
  /** The next node in turn whose connection is open (any node when none is). */
  const nextConnected = (): number => {
    for (let k = 0; k < nodes.length; k++) {
      const i = next();
      if (clients[i]!.client.connected) return i;
    }
    return next();
  };
  const frame = (batchId: string, orders: readonly string[]): string => `{"batch":${JSON.stringify(batchId)},"orders":[${orders.join(',')}]}`;

  return {
    clients,
    counters() {
      const sum: Record<string, number> = {};
      for (const { client } of clients) for (const [k, v] of Object.entries(client.counters)) sum[k] = (sum[k] ?? 0) + v;
      return sum as unknown as IngestCounters;
    },
    get inFlight() {
      return clients.reduce((n, c) => n + c.client.inFlight, 0);
    },
    async ready() {
      await Promise.all([...clients.map((c) => c.client.ready()), readMap()]);
    },
    async send(batchId, orders) {
      if (opts.mode === 'any') {
        await clients[next()]!.client.send(batchId, frame(batchId, orders.map((o) => o.json)), orders.length);
        return;
      }
      const parts: string[][] = nodes.map(() => []);
      for (const o of orders) {
        const id = ID_AT_HEAD.exec(o.json)?.[1];
        // A malformed order without a usable id is refused by whichever node gets it.
        parts[id === undefined ? next() : ownerIndex(id)]!.push(o.json);
      }
      for (let i = 0; i < nodes.length; i++) {
        const part = parts[i]!;
        if (part.length === 0) continue;
        const id = `${batchId}.${nodes[i]!.id}`;
        await clients[i]!.client.send(id, frame(id, part), part.length);
      }
    },
    async drain() {
      await Promise.all(clients.map((c) => c.client.drain()));
    },
    async close() {
      await Promise.all(clients.map((c) => c.client.close()));
    },
  };
}
