// A show config for tests: the default show's rates with the name, milestones and instants a test needs.
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseShowConfig, type ShowConfig } from '../domain/show.ts';

/** `over` is raw show-config JSON (as in a show file); rates default to the default show's. */
export function testShow(over: Record<string, unknown>): ShowConfig {
  const rates = Object.fromEntries([...loadShow(DEFAULT_SHOW_FILE).rates].filter(([c]) => c !== 'CNY').map(([c, r]) => [c, r.text]));
  return parseShowConfig({ currency: 'CNY', rates, ...over });
}
