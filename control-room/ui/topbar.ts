// The bar across the top of every control-room page: the show, a rehearsal marker, the live link, storage and
// stale-input state, the operator and role, navigation and logout. Also the OBS status pill.
import type { HealthData, ShowData } from '../../protocol/live-protocol.ts';
import type { ObsStatus } from '../../domain/obs-port.ts';
import type { SessionInfo } from './api.ts';
import { fill, h } from './dom.ts';
import type { LinkState } from './live.ts';

export interface TopbarModel {
  session: SessionInfo | null;
  show: ShowData | null;
  health: HealthData | null;
  link: LinkState;
  page: 'control' | 'live';
}

const LINK_TEXT: Record<LinkState, string> = { open: 'LIVE', connecting: 'CONNECTING', closed: 'RECONNECTING' };

export function pill(text: string, kind: 'ok' | 'warn' | 'bad' | 'info', id?: string): HTMLElement {
  return h('span', { class: `pill pill-${kind}`, id }, text);
}

export function renderTopbar(el: HTMLElement, m: TopbarModel): void {
  const s = m.session;
  fill(
    el,
    h('span', { class: 'brand' }, h('span', { class: 'brand-mark' }, 'GALA'), ' CONTROL'),
    h('span', { class: 'show-name' }, m.show?.name ?? ''),
    m.show?.rehearsal === true ? pill('REHEARSAL: NOT ON AIR', 'warn', 'rehearsal') : null,
    m.show?.status === 'final' ? pill('SHOW FINAL', 'info') : null,
    h('span', { class: 'spacer' }),
    pill(LINK_TEXT[m.link], m.link === 'open' ? 'ok' : m.link === 'connecting' ? 'warn' : 'bad', 'link'),
    m.health === null ? null : pill(m.health.storage === 'up' ? 'CLICKHOUSE UP' : 'CLICKHOUSE DOWN', m.health.storage === 'up' ? 'ok' : 'bad', 'storage-pill'),
    m.health?.stale === true ? pill(`NO ORDERS FOR ${m.health.staleSeconds}+ S`, 'bad', 'stale-pill') : null,
    h('nav', { class: 'nav' }, h('a', { href: '/control', class: m.page === 'control' ? 'current' : '' }, 'Cue list'), h('a', { href: '/control/live', class: m.page === 'live' ? 'current' : '' }, 'Live panel')),
    s === null ? null : h('span', { class: 'who', id: 'who' }, h('span', { class: 'operator' }, s.operator), h('span', { class: `role role-${s.role}`, id: 'role' }, s.role.toUpperCase())),
    h('button', { id: 'logout', class: 'btn btn-small', type: 'button' }, 'Log out'),
  );
}

export function renderObsPill(el: HTMLElement, o: ObsStatus): void {
  const kind = o.link === 'connected' ? 'ok' : o.link === 'log-only' ? 'info' : 'bad';
  fill(
    el,
    pill(`OBS ${o.link.toUpperCase()}`, kind),
    o.programScene === null ? null : h('span', { class: 'obs-scene' }, h('b', { class: 'pgm' }, 'PGM'), ' ', o.programScene),
    o.studioMode && o.previewScene !== null ? h('span', { class: 'obs-scene' }, h('b', { class: 'pvw' }, 'PVW'), ' ', o.previewScene) : null,
    o.transition === null ? null : h('span', { class: 'obs-scene' }, h('b', { class: 'trn' }, 'TRANSITION'), ` → ${o.transition.to}`),
  );
}
