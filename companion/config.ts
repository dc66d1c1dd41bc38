// The connection's settings in Companion (Gala's address and the operator named in its audit; the token kept as a
// Companion secret), checked once into what the link needs.
import type { SomeCompanionConfigField } from '@companion-module/base';

export interface GalaConfig {
  url: string;
  operator: string;
}

export interface GalaSecrets {
  token: string;
}

export interface GalaTarget {
  /** The HTTP origin of Gala's public port, e.g. http://10.0.0.5:8080. */
  origin: string;
  token: string;
  /** Sent as X-Operator on every request: the audit says which desk fired what, and arms and holds are its own. */
  operator: string;
}

// What the control room accepts as an operator name (control-room/control-auth.ts): no control characters.
const OPERATOR = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,64}$/u;

export function configFields(): SomeCompanionConfigField[] {
  return [
    {
      type: 'textinput',
      id: 'url',
      label: 'Gala address',
      description: 'The HTTP port of a Gala process (the control room, overlays and live channel), e.g. http://10.0.0.5:8080',
      width: 8,
      default: 'http://127.0.0.1:8080',
      regex: '/^https?:\\/\\/\\S+$/',
    },
    {
      type: 'textinput',
      id: 'operator',
      label: 'Operator (X-Operator)',
      description: "Named in Gala's audit. Give each desk its own: an arm or a hold is used only by the operator who made it",
      width: 4,
      default: 'Stream Deck',
    },
    {
      type: 'secret-text',
      id: 'token',
      label: 'Producer token',
      description: 'GALA_PRODUCER_TOKEN (or an admin token). The graphics actions need the producer token itself',
      width: 12,
      default: '',
    },
  ];
}

/** The settings as the link needs them, or what is wrong with them. */
export function parseConfig(config: Partial<GalaConfig> | undefined, secrets: Partial<GalaSecrets> | undefined): GalaTarget | { error: string } {
  let url: URL;
  try {
    url = new URL(config?.url ?? '');
  } catch {
    return { error: `url: must be an http(s) address, e.g. http://127.0.0.1:8080 (got ${JSON.stringify(config?.url ?? '')})` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `url: must start with http:// or https:// (got ${JSON.stringify(url.protocol)})` };
  const operator = (config?.operator ?? '').trim();
  if (!OPERATOR.test(operator)) return { error: 'operator: must be 1 to 64 characters without control characters' };
  const token = secrets?.token ?? '';
  if (token === '') return { error: 'token: required, the producer token (GALA_PRODUCER_TOKEN)' };
  return { origin: url.origin, token, operator };
}
