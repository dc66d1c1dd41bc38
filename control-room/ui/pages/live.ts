// The live panel (/control/live): the figures, the feed's lag, reconciliation drift, stale input, ClickHouse and
// OBS status, every connected overlay's health with scaled-down previews of the overlay pages, and the audit
// tail with its CSV export; on a cluster node, the cluster's nodes (link, silence, partitions owned). Figures come
// from the live channel; the audit is polled (it is not a topic); the cluster's map is read once from /v1/cluster.
import type { HealthData, OverlayHealth, ShowData, TotalsData } from '../../../protocol/live-protocol.ts';
import type { AuditEntry, ControlState } from '../../../protocol/control-state.ts';
import type { ClusterView } from '../../../protocol/cluster-protocol.ts';
import { call, loadSession, logout, toLogin, type SessionInfo } from '../api.ts';
import { byId, fill, h, setText } from '../dom.ts';
import { ago, clock, money, partitionRanges, percent } from '../format.ts';
import { liveClient, type LinkState } from '../live.ts';
import { renderRehearsalBar } from '../rehearsal-bar.ts';
import { createRehearsalPanel, type RehearsalPanel } from '../rehearsal-panel.ts';
import { pill, renderObsPill, renderTopbar } from '../topbar.ts';

interface PageState {
  session: SessionInfo | null;
  totals: TotalsData | null;
  /** Receipt instant of the last totals message, and the feed's lag (receipt - the server's send instant). */
  totalsAt: number;
  feedLagMs: number | null;
  health: HealthData | null;
  overlays: OverlayHealth[];
  show: ShowData | null;
  control: ControlState | null;
  link: LinkState;
  audit: AuditEntry[];
  auditSeq: number;
  rehearsal: RehearsalPanel | null;
  /** The cluster's map from /v1/cluster; null on a single node (or until read). */
  cluster: ClusterView | null;
}

const app: PageState = {
  session: null,
  totals: null,
  totalsAt: 0,
  feedLagMs: null,
  health: null,
  overlays: [],
  show: null,
  control: null,
  link: 'connecting',
  audit: [],
  auditSeq: 0,
  rehearsal: null,
  cluster: null,
};

const AUDIT_ROWS = 200;

function stat(id: string, label: string, big = false): HTMLElement {
  return h('div', { class: big ? 'stat stat-big' : 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value', id }, '-'));
}

function card(title: string, ...body: (Node | null)[]): HTMLElement {
  return h('section', { class: 'card' }, h('div', { class: 'panel-title' }, title), ...body);
}

function layout(): void {
  const previews = h('div', { id: 'previews', class: 'previews' });
  const csv = h('a', { id: 'audit-csv', class: 'btn btn-small', href: '/v1/control/audit.csv?limit=20000', download: 'control-audit.csv' }, 'Export CSV');
  fill(
    byId('app'),
    h('header', { id: 'topbar', class: 'topbar' }),
    h('div', { id: 'stale-banner', class: 'banner banner-bad', hidden: true }),
    h(
      'main',
      { class: 'live-grid' },
      card('TOTALS', h('div', { class: 'stats' }, stat('gmv', 'GMV', true), stat('orders', 'Orders'), stat('ops', 'Orders/s'), stat('gmvps', 'GMV/s'), stat('mobile', 'Mobile share (GMV)'), stat('status', 'Status'))),
      card('FEED', h('div', { class: 'stats' }, stat('ingest-lag', 'Ingest lag (arrival → durable)'), stat('feed-lag', 'Feed lag (server → here)'), stat('totals-age', 'Last totals update'), stat('last-order', 'Last order received'), stat('stale', 'Input'))),
      card('RECONCILIATION · CLICKHOUSE', h('div', { class: 'stats' }, stat('storage', 'ClickHouse'), stat('drift', 'Drift (live − stored)'), stat('checked', 'Last check'), stat('late', 'Late duplicates'))),
      card('OBS', h('div', { id: 'obs-detail', class: 'obs-detail' })),
      h(
        'section',
        { id: 'cluster', class: 'card card-wide', hidden: true },
        h('div', { class: 'panel-title' }, 'CLUSTER'),
        h('div', { id: 'cluster-summary', class: 'cluster-summary' }),
        h(
          'table',
          { class: 'grid-table' },
          h('thead', {}, h('tr', {}, ...['Node', 'Role', 'Figures link', 'Silence', 'Partitions', 'Which'].map((t) => h('th', {}, t)))),
          h('tbody', { id: 'cluster-nodes' }),
        ),
        h(
          'div',
          { id: 'cluster-replication', hidden: true },
          h('div', { id: 'cluster-takeover', class: 'cluster-summary' }),
          h(
            'table',
            { class: 'grid-table' },
            h('thead', {}, h('tr', {}, ...['Shard', 'Owner', 'Epoch', 'Serving', 'Since', 'Partitions', 'Replicas'].map((t) => h('th', {}, t)))),
            h('tbody', { id: 'cluster-shards' }),
          ),
          h(
            'table',
            { class: 'grid-table' },
            h('thead', {}, h('tr', {}, ...['Node', 'Shard', 'ZooKeeper', 'Replica lag', 'Replica queue'].map((t) => h('th', {}, t)))),
            h('tbody', { id: 'cluster-replicas' }),
          ),
        ),
      ),
      h('section', { class: 'card card-rehearsal', hidden: true }, app.rehearsal?.el),
      h(
        'section',
        { class: 'card card-wide' },
        h('div', { class: 'panel-title' }, 'OVERLAYS'),
        h(
          'table',
          { class: 'grid-table' },
          h('thead', {}, h('tr', {}, ...['Overlay', 'Instance', 'Link', 'Displays', 'Graphics on', 'FPS', 'Frame p99', 'Last update', 'Heap'].map((t) => h('th', {}, t)))),
          h('tbody', { id: 'overlays' }),
        ),
        previews,
      ),
      h(
        'section',
        { class: 'card card-wide' },
        h('div', { class: 'panel-title' }, 'AUDIT ', csv),
        h('div', { class: 'audit-scroll' }, h('table', { class: 'grid-table audit' }, h('thead', {}, h('tr', {}, ...['#', 'Time', 'Operator', 'Role', 'Via', 'Action', 'Target', 'Result', 'Status', 'Detail'].map((t) => h('th', {}, t)))), h('tbody', { id: 'audit' }))),
      ),
    ),
  );
}

function renderTotals(): void {
  const t = app.totals;
  if (t === null) return;
  setText(byId('gmv'), `${t.currency} ${money(t.gmv)}`);
  setText(byId('orders'), t.orders.toLocaleString('en-US'));
  setText(byId('ops'), t.ordersPerSecond.toLocaleString('en-US'));
  setText(byId('gmvps'), money(t.gmvPerSecond));
  setText(byId('mobile'), percent(t.mobileShare));
  setText(byId('status'), `${t.status.toUpperCase()} · unaudited`);
}

function renderFeed(): void {
  setText(byId('feed-lag'), app.feedLagMs === null ? '-' : `${Math.max(0, app.feedLagMs)} ms`);
  setText(byId('totals-age'), app.totalsAt === 0 ? '-' : ago(new Date(app.totalsAt).toISOString()));
  const hl = app.health;
  if (hl === null) return;
  setText(byId('ingest-lag'), hl.ingestLagMs === null ? '-' : `${hl.ingestLagMs} ms`);
  setText(byId('last-order'), ago(hl.lastOrderAt));
  const stale = byId('stale');
  setText(stale, hl.stale ? `STALE (> ${hl.staleSeconds} s)` : 'flowing');
  stale.className = `stat-value ${hl.stale ? 'bad' : 'good'}`;
  const banner = byId('stale-banner');
  const paused = hl.coordination?.acksPaused === true;
  banner.hidden = !hl.stale && !paused;
  setText(
    banner,
    paused
      ? `COORDINATION DOWN: ZooKeeper is ${hl.coordination!.zookeeper} on this node. No order is acknowledged; screens keep the figures published so far, which may be behind. Acks resume by themselves when ZooKeeper is back.`
      : `STALE INPUT: no order received for more than ${hl.staleSeconds} s (last ${ago(hl.lastOrderAt)}). Screens keep the last figures; check the order feed.`,
  );
}

function renderHealth(): void {
  const hl = app.health;
  if (hl === null) return;
  const st = byId('storage');
  setText(st, hl.storage === 'up' ? 'UP' : 'DOWN');
  st.className = `stat-value ${hl.storage === 'up' ? 'good' : 'bad'}`;
  const drift = Object.entries(hl.drift);
  const d = byId('drift');
  setText(d, drift.length === 0 ? 'none: in agreement' : drift.map(([c, v]) => `${c} ${money(v)}`).join(' · '));
  d.className = `stat-value ${drift.length === 0 ? 'good' : 'bad'}`;
  setText(byId('checked'), clock(hl.checkedAt));
  setText(byId('late'), `${hl.lateDuplicates.copies} (${money(hl.lateDuplicates.gmv)})`);
  renderFeed();
}

/** The cluster's nodes as this node hears them: the map from /v1/cluster, each peer's link from the health topic. */
function renderCluster(): void {
  const cl = app.cluster;
  if (cl === null) return;
  byId('cluster').hidden = false;
  setText(byId('cluster-summary'), `This node ${cl.self} · coordinator ${cl.coordinator} · ${cl.partitions} partitions over ${cl.nodes.length} nodes · ClickHouse cluster ${cl.clickhouseCluster}`);
  const peers = app.health?.peers ?? [];
  const rows = cl.nodes.map((n) => {
    const self = n.id === cl.self;
    const peer = peers.find((p) => p.node === n.id);
    const link = self ? pill('THIS NODE', 'info') : peer === undefined ? pill('-', 'warn') : pill(peer.link === 'up' ? (peer.silent ? 'UP · SILENT' : 'UP') : 'DOWN', peer.link === 'up' && !peer.silent ? 'ok' : 'bad');
    const silence = self || peer === undefined ? '-' : peer.secondsSinceFigures === null ? 'never heard' : `${peer.secondsSinceFigures} s`;
    const role = [n.coordinator ? 'coordinator' : null, self ? 'this node' : null].filter((x) => x !== null).join(' · ') || 'node';
    return h(
      'tr',
      { class: peer?.silent === true ? 'row-bad' : '', 'data-node': n.id },
      h('td', { class: 'mono' }, n.id),
      h('td', {}, role),
      h('td', {}, link),
      h('td', { class: 'num silence' }, silence),
      h('td', { class: 'num' }, n.partitions.length),
      h('td', { class: 'mono' }, partitionRanges(n.partitions)),
    );
  });
  fill(byId('cluster-nodes'), ...rows);
  renderReplication(cl);
}

/** With replication: every shard's lease, each node's ZooKeeper state and replica lag, and the last takeover. */
function renderReplication(cl: ClusterView): void {
  const shards = cl.shards;
  byId('cluster-replication').hidden = shards === undefined;
  if (shards === undefined) return;
  const t = cl.lastTakeover ?? null;
  setText(byId('cluster-takeover'), t === null ? 'No takeover yet' : `Last takeover: shard ${t.shard} from ${t.from ?? '(vacant)'} to ${t.to} at epoch ${t.epoch}, ${clock(t.at)}, took ${(t.tookMs / 1000).toFixed(1)} s`);
  fill(
    byId('cluster-shards'),
    ...shards.map((x) =>
      h(
        'tr',
        { class: x.owner === null || !x.serving ? 'row-bad' : '', 'data-shard': String(x.shard) },
        h('td', { class: 'num' }, x.shard),
        h('td', { class: 'mono' }, x.owner ?? 'VACANT'),
        h('td', { class: 'num' }, x.epoch),
        h('td', {}, x.owner === null ? pill('NO OWNER', 'bad') : x.serving ? pill('SERVING', 'ok') : pill('REBUILDING', 'warn')),
        h('td', {}, x.since === null ? '-' : clock(x.since)),
        h('td', { class: 'mono' }, partitionRanges(x.partitions)),
        h('td', { class: 'mono' }, x.nodes.join(', ')),
      ),
    ),
  );
  fill(
    byId('cluster-replicas'),
    ...cl.nodes.map((n) => {
      const lag = n.replica?.delaySeconds ?? null;
      return h(
        'tr',
        { 'data-node': n.id },
        h('td', { class: 'mono' }, n.id),
        h('td', { class: 'num' }, n.shard ?? '-'),
        h('td', {}, pill((n.zookeeper ?? 'unknown').toUpperCase(), n.zookeeper === 'connected' || n.zookeeper === 'member' ? 'ok' : 'bad')),
        h('td', { class: 'num' }, lag === null ? '-' : `${lag} s`),
        h('td', { class: 'num' }, n.replica?.queueSize ?? '-'),
      );
    }),
  );
}

/** A cluster node answers /v1/cluster; a single node answers 404 and the panel stays as it was. */
async function loadCluster(): Promise<void> {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 30_000)) {
    const r = await call<ClusterView>('GET', '/v1/cluster');
    if (r.status === 404) return;
    if (r.ok) {
      app.cluster = r.body;
      renderCluster();
      // Unreplicated the map is fixed; replicated, owners change at takeover: read it again every two seconds.
      if (r.body.shards !== undefined) setTimeout(() => void loadCluster(), 2000);
      return;
    }
    await new Promise((done) => setTimeout(done, wait));
  }
}

function renderObs(): void {
  const o = app.control?.obs;
  if (o === undefined) return;
  const row = (k: string, v: string | Node) => h('div', { class: 'kv' }, h('span', { class: 'k' }, k), h('span', { class: 'v' }, v));
  const pillHost = h('div', {});
  renderObsPill(pillHost, o);
  fill(
    byId('obs-detail'),
    pillHost,
    row('URL', o.url ?? '(none configured: OBS steps are logged only)'),
    row('Program', o.programScene ?? '-'),
    row('Preview', o.studioMode ? (o.previewScene ?? '-') : '(studio mode off)'),
    row('Transition', o.transition === null ? 'idle' : `${o.transition.from ?? '?'} → ${o.transition.to} since ${clock(o.transition.startedAt)}`),
    row('Heartbeat', o.rttMs === null ? '-' : `${o.rttMs} ms`),
    row('Scenes', o.scenes.length === 0 ? '-' : o.scenes.join(' · ')),
    o.lastError === null ? null : row('Last error', h('span', { class: 'bad' }, o.lastError)),
  );
}

function renderControl(): void {
  renderObs();
  if (app.control === null) return;
  app.rehearsal?.update(app.control);
  // The card holding the panel goes with it: on air the grid shows no empty box.
  app.rehearsal?.el.parentElement?.toggleAttribute('hidden', app.control.rehearsal === null);
  renderTop();
}

function renderOverlays(): void {
  const rows = app.overlays.map((o) =>
    h(
      'tr',
      { class: o.connected ? '' : 'row-bad', 'data-overlay': o.overlay },
      h('td', {}, o.overlay),
      h('td', { class: 'mono' }, o.instance),
      h('td', {}, pill(o.connected ? 'LIVE' : 'DOWN', o.connected ? 'ok' : 'bad')),
      h('td', { class: 'mono' }, o.displayed ?? '-'),
      h('td', {}, o.visible.join(', ') || '-'),
      h('td', { class: `num ${o.fps < 30 ? 'warn' : ''}` }, o.fps.toFixed(0)),
      h('td', { class: 'num' }, `${o.frameMsP99.toFixed(1)} ms`),
      h('td', {}, ago(o.lastUpdate)),
      h('td', { class: 'num' }, o.jsHeapBytes === null ? '-' : `${(o.jsHeapBytes / 1048576).toFixed(0)} MB`),
    ),
  );
  fill(byId('overlays'), ...(rows.length === 0 ? [h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No overlay connected'))] : rows));
}

async function loadPreviews(): Promise<void> {
  const r = await call<{ overlays: { name: string; url: string }[] }>('GET', '/overlays');
  if (!r.ok) return;
  const host = byId('previews');
  const on = localStorage.getItem('gala.previews') !== 'off';
  const toggle = h('button', { type: 'button', class: 'btn btn-small', id: 'previews-toggle' }, on ? 'Hide previews' : 'Show previews');
  toggle.addEventListener('click', () => {
    localStorage.setItem('gala.previews', on ? 'off' : 'on');
    void loadPreviews();
  });
  fill(
    host,
    h('div', { class: 'previews-head' }, h('span', { class: 'muted' }, 'Previews (each is a real overlay instance and reports its health above)'), toggle),
    ...r.body.overlays.map((o) =>
      h(
        'figure',
        { class: 'preview' },
        on ? h('div', { class: 'preview-frame' }, h('iframe', { src: `${o.url}?preview=1`, title: `overlay ${o.name}`, loading: 'lazy', tabindex: -1 })) : null,
        h('figcaption', {}, h('a', { href: o.url, target: '_blank', rel: 'noopener' }, o.name), ' · 1920×1080'),
      ),
    ),
  );
}

function renderAudit(): void {
  fill(
    byId('audit'),
    ...app.audit.map((e) =>
      h(
        'tr',
        { class: e.result === 'ok' ? '' : 'row-bad' },
        h('td', { class: 'num' }, e.seq),
        h('td', { class: 'mono' }, clock(e.at)),
        h('td', {}, e.operator),
        h('td', {}, e.role ?? '-'),
        h('td', {}, e.via),
        h('td', { class: 'mono' }, e.action),
        h('td', { class: 'mono' }, e.target ?? ''),
        h('td', {}, e.result),
        h('td', { class: 'num' }, e.status),
        h('td', { class: 'detail' }, e.detail ?? ''),
      ),
    ),
  );
}

async function pollAudit(): Promise<void> {
  const q = app.auditSeq === 0 ? `limit=${AUDIT_ROWS}` : `after=${app.auditSeq}&limit=${AUDIT_ROWS}`;
  const r = await call<{ entries: AuditEntry[]; lastSeq: number }>('GET', `/v1/control/audit?${q}`);
  if (r.status === 401) return toLogin('live');
  if (!r.ok || r.body.entries.length === 0) return;
  app.auditSeq = Math.max(app.auditSeq, ...r.body.entries.map((e) => e.seq));
  app.audit = [...r.body.entries].concat(app.audit).sort((a, b) => b.seq - a.seq).slice(0, AUDIT_ROWS);
  renderAudit();
}

function renderTop(): void {
  renderRehearsalBar(app.control?.rehearsal != null || app.show?.rehearsal === true, app.control?.rehearsal ?? null);
  renderTopbar(byId('topbar'), { session: app.session, show: app.show, health: app.health, link: app.link, page: 'live' });
}

async function main(): Promise<void> {
  const session = await loadSession();
  if (session === null) return toLogin('live');
  app.session = session;
  app.rehearsal = createRehearsalPanel({
    canAct: session.role !== 'viewer',
    onState: (s) => {
      if (app.control !== null && s.rev < app.control.rev) return;
      app.control = s;
      renderControl();
    },
  });
  layout();
  renderTop();
  byId('topbar').addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).id === 'logout') void logout();
  });
  const live = liveClient();
  live.subscribe('totals', (m) => {
    app.totals = m.data;
    app.totalsAt = Date.now();
    if (m.type === 'update') app.feedLagMs = Date.now() - m.sentAt;
    renderTotals();
    renderFeed();
  });
  live.subscribe('health', (m) => {
    app.health = m.data;
    renderHealth();
    renderCluster();
    renderTop();
  });
  live.subscribe('overlays', (m) => {
    app.overlays = m.data.overlays;
    renderOverlays();
  });
  live.subscribe('show', (m) => {
    app.show = m.data;
    renderTop();
  });
  live.subscribe('control', (m) => {
    app.control = m.data;
    renderControl();
  });
  live.onStatus((s) => {
    app.link = s;
    renderTop();
  });
  live.start();
  void loadPreviews();
  void loadCluster();
  await pollAudit();
  setInterval(() => void pollAudit(), 2000);
  // Ages ("3 s ago") move on their own.
  setInterval(() => {
    renderFeed();
    renderOverlays();
  }, 1000);
}

void main();
