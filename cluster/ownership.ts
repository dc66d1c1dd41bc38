// Who commits which partition, now: the one question the router, the receiver's check, the figures and /v1/cluster
// ask. Without replication the answer is issue 14's fixed map (p -> nodes[p mod N], epoch 0, for good); with
// replication it is the holder of the partition's shard lease (cluster/shard-leases.ts), which changes at takeover.
import { ownerIndexOf, type ClusterFile } from '../domain/cluster-map.ts';

/** A partition's current owner and the epoch of its lease (0 without replication). */
export interface PartitionOwner {
  node: string;
  epoch: number;
}

/** A shard as the leases see it (replication only). */
export interface ShardOwnerView {
  shard: number;
  /** The lease holder; null while the shard is vacant. */
  node: string | null;
  epoch: number;
  /** The holder has rebuilt from its replica and acks. */
  serving: boolean;
  /** When the holder took it (ISO 8601); null while vacant. */
  since: string | null;
}

export interface Ownership {
  /** The node committing partition p now; null: nobody serves it (vacant, or its new owner still rebuilding). */
  ownerOfPartition(p: number): PartitionOwner | null;
  /** This node holds p's lease at `epoch`, and the lease is valid now: a commit of p may be acked. */
  mayAck(p: number, epoch: number): boolean;
  /** Every shard's lease; [] without replication. */
  shards(): ShardOwnerView[];
  /** Calls `listener` after every change of owner; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

const statics = new WeakSet<Ownership>();

/**
 * Issue 14's fixed ownership: partition p is nodes[p mod N]'s, at epoch 0, always valid; it never changes.
 */
export function staticOwnership(file: ClusterFile, self: string): Ownership {
  const owners: PartitionOwner[] = [];
  for (let p = 0; p < file.partitions; p++) owners.push({ node: file.nodes[ownerIndexOf(p, file.nodes.length)]!.id, epoch: 0 });
  const o: Ownership = {
    ownerOfPartition: (p) => owners[p] ?? null,
    mayAck: (p, epoch) => epoch === 0 && owners[p]?.node === self,
    shards: () => [],
    onChange: () => () => {},
  };
  statics.add(o);
  return o;
}

/** The ownership is issue 14's fixed map: its leases never lapse, so nothing needs checking at commit or ack time. */
export function isStaticOwnership(o: Ownership): boolean {
  return statics.has(o);
}
