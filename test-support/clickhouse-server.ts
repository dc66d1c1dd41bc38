// A real ClickHouse server (Debian's 18.16 or a current one) for tests: own config, free ports, temp dir. The
// launching itself is product code (cli/clickhouse-launcher.ts), shared with the cluster demo.
import { clickHouseServerAvailable, NO_CLICKHOUSE_SERVER } from '../cli/clickhouse-launcher.ts';

export {
  clickHouseServerAvailable,
  freePorts,
  PortTakenError,
  startClickHouseServer,
  xml,
  type ClickHouseServer,
  type ClickHouseServerOptions,
} from '../cli/clickhouse-launcher.ts';

/**
 * For test files that need the server: true when it can run. When it cannot, CI fails (a skipped
 * server suite would pass silently); elsewhere the caller skips and the reason is printed.
 */
export function requireClickHouseServer(warn: (message: string) => void = console.warn): boolean {
  if (clickHouseServerAvailable()) return true;
  if (process.env.CI === 'true') throw new Error(`${NO_CLICKHOUSE_SERVER}. CI=true: server tests must run, not skip.`);
  warn(`skipping ClickHouse server tests: ${NO_CLICKHOUSE_SERVER}`);
  return false;
}
