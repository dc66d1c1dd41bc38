// A real ZooKeeper (Debian's zookeeper 3.8) for tests: own directory, a free port. The launching itself is product
// code (cli/zookeeper-launcher.ts), shared with the replicated cluster demo.
import { NO_ZOOKEEPER, zookeeperAvailable } from '../cli/zookeeper-launcher.ts';

export { fourLetter, startZooKeeper, zookeeperAvailable, type ZooKeeper, type ZooKeeperOptions } from '../cli/zookeeper-launcher.ts';

/**
 * For test files that need ZooKeeper: true when it can run. When it cannot, CI fails (a skipped replication suite
 * would pass silently); elsewhere the caller skips and the reason is printed.
 */
export function requireZooKeeper(warn: (message: string) => void = console.warn): boolean {
  if (zookeeperAvailable()) return true;
  if (process.env.CI === 'true') throw new Error(`${NO_ZOOKEEPER}. CI=true: replication tests must run, not skip.`);
  warn(`skipping ZooKeeper tests: ${NO_ZOOKEEPER}`);
  return false;
}
