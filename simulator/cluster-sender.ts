// Sends simulated batches to the nodes of a cluster, one ingest client (bounded window) per node. `owner` splits each
// batch by the partition map and sends every order straight to the node that owns it (the smart client GET
// /v1/cluster is published for: no forwarding hop); `any` sends each whole batch to the next node in turn, which
// forwards the orders it does not own.
import { ownerIndexOf, partitionOf, type ClusterFile } from '../domain/cluster-map.ts';
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
  const clients = nodes.map((n) => ({
    id: n.id,
    client: createIngestClient({
      url: `ws://${n.host}:${n.ingestPort}/v1/ingest`,
      token: opts.token,
      window: opts.window ?? 8,
      onConnection: (e) => opts.onConnection?.(n.id, e),
    }),
  }));
  let turn = 0;
  const next = (): number => (turn = (turn + 1) % nodes.length);
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
      await Promise.all(clients.map((c) => c.client.ready()));
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
        parts[id === undefined ? next() : ownerIndexOf(partitionOf(id, partitions), nodes.length)]!.push(o.json);
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
