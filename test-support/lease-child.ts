// A shard-lease holder in a process of its own, for the tests that kill it (SIGKILL) or freeze it (SIGSTOP): it
// holds its node's lease with cluster/shard-leases.ts and probes mayAck every few ms, keeping the last instant it
// would have acked at each epoch, which the parent reads over IPC once the process runs again.
import { parseClusterFile, partitionsOfShard } from '../domain/cluster-map.ts';
import { ShardLeases } from '../cluster/shard-leases.ts';

export interface LeaseChildStart {
  type: 'start';
  file: unknown;
  self: string;
}

export type LeaseChildMessage =
  | { type: 'acquire'; shard: number; epoch: number; at: number }
  | { type: 'release'; shard: number; at: number }
  | { type: 'report'; lastAck: Record<string, number>; acks: number; mayAckNow: boolean; epoch: number | null; state: string };

const PROBE_MS = 5;

process.once('message', (raw) => {
  const msg = raw as LeaseChildStart;
  const file = parseClusterFile(msg.file);
  const self = file.nodes.find((n) => n.id === msg.self)!;
  const partition = partitionsOfShard(file, self.shard!)[0]!;
  const send = (m: LeaseChildMessage) => process.send!(m);
  let epoch: number | null = null;
  const lastAck: Record<string, number> = {};
  let acks = 0;
  const leases = new ShardLeases({
    file,
    self,
    hooks: {
      acquire: async (shard, e) => {
        epoch = e;
        send({ type: 'acquire', shard, epoch: e, at: Date.now() });
      },
      release: async (shard) => {
        send({ type: 'release', shard, at: Date.now() });
      },
    },
  });
  // Every instant this process would have acked, reduced to the last one per epoch (all the parent checks).
  setInterval(() => {
    if (epoch !== null && leases.mayAck(partition, epoch)) {
      lastAck[epoch] = Date.now();
      acks++;
    }
  }, PROBE_MS);
  process.on('message', (m) => {
    if ((m as { type: string }).type === 'report') {
      send({ type: 'report', lastAck, acks, mayAckNow: epoch !== null && leases.mayAck(partition, epoch), epoch, state: leases.zookeeperState() });
    }
  });
  void leases.start();
});
