// The module's variables: the night's figures from the `totals` topic and the standby and next cues from `control`,
// for button text such as $(gala:gmv_formatted) or $(gala:standby_label).
import type { CompanionVariableDefinition, CompanionVariableValues } from '@companion-module/base';
import type { GalaView } from './gala-link.ts';

export const VARIABLES: CompanionVariableDefinition[] = [
  { variableId: 'gmv', name: 'GMV, display currency, exact decimal (e.g. 1234567.89)' },
  { variableId: 'gmv_formatted', name: 'GMV with thousands separators (e.g. 1,234,567.89)' },
  { variableId: 'currency', name: 'Display currency (ISO 4217)' },
  { variableId: 'orders', name: 'Orders' },
  { variableId: 'mobile_share', name: 'Mobile share of GMV, percent (e.g. 93.1%)' },
  { variableId: 'orders_per_second', name: 'Orders per second' },
  { variableId: 'standby_id', name: 'Standby cue id' },
  { variableId: 'standby_label', name: 'Standby cue label' },
  { variableId: 'next_id', name: 'Next cue id' },
  { variableId: 'next_label', name: 'Next cue label' },
  { variableId: 'link', name: 'Link to Gala: connecting, open or closed' },
];

/** Groups the whole part of a decimal string by thousands, as text: money is never turned into a float. */
export function groupThousands(decimal: string): string {
  const [whole = '', fraction] = decimal.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function variableValues(view: GalaView): CompanionVariableValues {
  const t = view.totals;
  const c = view.control;
  const label = (id: string | null | undefined) => (id == null ? '' : (c?.rundown.cues.find((x) => x.id === id)?.label ?? id));
  return {
    gmv: t?.gmv ?? '',
    gmv_formatted: t === null ? '' : groupThousands(t.gmv),
    currency: t?.currency ?? '',
    orders: t?.orders ?? '',
    mobile_share: t === null ? '' : `${(t.mobileShare * 100).toFixed(1)}%`,
    orders_per_second: t?.ordersPerSecond ?? '',
    standby_id: c?.standby ?? '',
    standby_label: label(c?.standby),
    next_id: c?.next ?? '',
    next_label: label(c?.next),
    link: view.link,
  };
}
