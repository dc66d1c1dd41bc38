// The cluster role's entry point: built by system/start-system.ts only when the process is a cluster node.
export { ClusterNodeRole, PEER_SILENT_AFTER_MS, type ClusterNodeOptions, type LiveParts } from './cluster-node.ts';
