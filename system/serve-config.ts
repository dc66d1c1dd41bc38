// What a running Gala process is configured with: the flags and environment `cli/config.ts` parses, as one value
// that `start-system.ts` wires into every role.
import type { RehearsalConfig } from '../control-room/rehearsal/index.ts';
import type { ClusterFile, ClusterNode } from '../domain/cluster-map.ts';
import type { ShowConfig } from '../domain/show.ts';

export interface ServeConfig {
  httpPort: number;
  ingestPort: number;
  host: string;
  dataDir: string;
  clickhouseUrl: string | null;
  show: ShowConfig;
  showFile: string;
  ingestTokens: string[];
  producerTokens: string[];
  /** Control room: admins edit the rundown (GALA_ADMIN_TOKEN); viewers watch (GALA_VIEWER_TOKEN). Comma-separated. */
  adminTokens?: string[];
  viewerTokens?: string[];
  obsUrl: string | null;
  obsPassword: string | null;
  /** De-duplication window (contract: at least 10 minutes). */
  dedupWindowMs: number;
  /** Memory ceiling of the de-duplication window, in fingerprints (8 bytes each plus table slack). */
  dedupMaxEntries: number;
  /** Orders per second the de-duplication window is sized for up front (it still grows past it). */
  dedupExpectedPerSecond: number;
  /** How often live totals are reconciled against storage; 0 turns it off. */
  reconcileIntervalMs: number;
  /** How long a group commit's first batch waits for company before the insert (default 100 ms). */
  flushIntervalMs?: number;
  /** Least ms between two derived inserts (the rollups); default group-commit's. */
  derivedIntervalMs?: number;
  /** Nice value of the embedded engine's merge threads (0: the process's own priority). */
  mergeNice?: number;
  /** Public feed rate limit per client: requests per second sustained (0: no limit) and burst. */
  publicRatePerSecond: number;
  publicBurst: number;
  /** Seconds without orders, while the show is live, before input is flagged stale. */
  staleSeconds: number;
  /** Set for `gala rehearse` (or GALA_REHEARSAL=1): the whole process is a rehearsal, fixed at start. */
  rehearsal?: RehearsalConfig | null;
  /**
   * Set for `gala serve --cluster FILE --node ID`: this process is node `self` of the cluster `file` describes. Its
   * host, ports and ClickHouse URL are its entry's; null or absent for a single node.
   */
  cluster?: { file: ClusterFile; self: ClusterNode } | null;
}
