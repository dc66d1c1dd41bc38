// The journalists' page: live figures from the live channel (/v1/live), the per-second chart (d3, global `d3`),
// milestones and the top boards. Plain browser module, no build step; every figure is put in with textContent.
/* global document, location, WebSocket, ResizeObserver, fetch, setTimeout, setInterval */

const CHART_SECONDS = 180;
const BOARD_ROWS = 5;
/** A figure lower than the one shown is held back this long: a correction that lasts is shown, a glitch is not. */
const HOLD_LOWER_MS = 10_000;
/** The `second` topic speaks once a second: this long without a message means the socket died silently. */
const SILENCE_MS = 5_000;
const TOPICS = ['show', 'totals', 'second', 'milestones', 'leaderboards'];
const SYMBOLS = { CNY: '¥', USD: '$', EUR: '€', GBP: '£', JPY: '¥', KRW: '₩', HKD: 'HK$', SGD: 'S$' };

const $ = (id) => document.getElementById(id);

const view = {
  currency: null,
  numerals: 'western',
  /** The GMV shown, in hundredths, and the instant it describes. */
  gmv: null,
  asOf: '',
  /** A lower GMV waiting out HOLD_LOWER_MS: { totals, since }. */
  lower: null,
  /** Per-second frames by start (epoch ms). */
  frames: new Map(),
  milestones: new Map(),
  next: null,
  connection: 'connecting',
};

// ---- exact money, as text ----

/** "1234.5" -> 123450n; null for anything that is not a decimal. */
function hundredths(s) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(s));
  if (m === null) return null;
  const v = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -v : v;
}

const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const symbol = () => SYMBOLS[view.currency] ?? (view.currency ? `${view.currency} ` : '');

/** "¥1,234,567.89": the exact figure, grouped in threes. `cents: false` drops the fraction (rates). */
function money(h, cents = true) {
  const neg = h < 0n;
  const a = neg ? -h : h;
  const int = group((a / 100n).toString());
  return `${neg ? '-' : ''}${symbol()}${int}${cents ? `.${(a % 100n).toString().padStart(2, '0')}` : ''}`;
}

/** "12.34亿" / "5678.90万", truncated (a reading never overstates the exact figure); null under 10,000. */
function reading(h) {
  const units = h / 100n;
  const cut = (unit, word) => {
    const whole = units / unit;
    const frac = ((units % unit) * 100n) / unit;
    return `${whole}.${frac.toString().padStart(2, '0')}${word}`;
  };
  const tail = view.currency === 'CNY' ? '元' : ` ${view.currency ?? ''}`.trimEnd();
  if (units >= 100_000_000n) return cut(100_000_000n, '亿') + tail;
  if (units >= 10_000n) return cut(10_000n, '万') + tail;
  return null;
}

const integer = (n) => group(String(Math.round(n)));
const percent = (x) => `${(x * 100).toFixed(1)}%`;

function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

function setText(id, text) {
  const el = $(id);
  if (el !== null && el.textContent !== text) el.textContent = text;
}

// ---- the figures ----

function showTotals(t) {
  if (typeof t !== 'object' || t === null) return;
  if (view.asOf !== '' && String(t.asOf) < view.asOf) return; // older than what is shown
  const h = hundredths(t.gmv);
  if (h === null) return;
  if (view.gmv !== null && h < view.gmv) {
    // Never backwards at a glance: a lower figure must last before it replaces the shown one.
    if (view.lower === null) view.lower = { since: Date.now(), totals: t };
    else view.lower.totals = t;
    if (Date.now() - view.lower.since < HOLD_LOWER_MS) return;
  }
  view.lower = null;
  if (typeof t.currency === 'string') view.currency = t.currency;
  view.gmv = h;
  view.asOf = String(t.asOf);
  const counter = $('gmv');
  counter.dataset.gmv = String(t.gmv);
  setText('gmv', money(h));
  // A long figure gets a smaller size rather than pushing the page sideways on a phone.
  counter.dataset.len = String(Math.min(24, Math.max(12, counter.textContent.length)));
  const r = view.numerals === 'chinese' ? reading(h) : null;
  const readingEl = $('gmv-reading');
  readingEl.hidden = r === null;
  setText('gmv-reading', r ?? '');
  setText('gmv-currency', view.currency ? `(${view.currency})` : '');
  setText('chart-currency', view.currency ?? '');
  setText('orders', integer(t.orders));
  setText('mobile-share', percent(Number(t.mobileShare)));
  const rate = hundredths(t.gmvPerSecond);
  if (rate !== null) setText('gmv-rate', money(rate, false));
  const ops = Number(t.ordersPerSecond);
  setText('orders-rate', ops < 100 ? ops.toFixed(1) : integer(ops));
  const asOf = $('as-of');
  asOf.dateTime = view.asOf;
  setText('as-of', clock(view.asOf));
  if (t.status === 'live' || t.status === 'final') showStatus(t.status, null);
}

function showStatus(status, rehearsal) {
  const pill = $('status');
  if (rehearsal !== null) pill.dataset.rehearsal = String(rehearsal);
  const isRehearsal = pill.dataset.rehearsal === 'true';
  $('rehearsal-bar').hidden = !isRehearsal;
  pill.dataset.status = status;
  pill.className = `pill ${status === 'final' ? 'pill-final' : 'pill-live'}`;
  setText('status-text', `${status === 'final' ? 'Final' : 'Live'}${isRehearsal ? ' · rehearsal' : ''} · unaudited`);
}

function showShow(s) {
  if (typeof s !== 'object' || s === null) return;
  view.currency = s.currency;
  const numeralsChanged = view.numerals !== s.numerals;
  view.numerals = s.numerals === 'chinese' ? 'chinese' : 'western';
  if (typeof s.name === 'string' && s.name !== '') {
    setText('show-name', s.name);
    document.title = `${s.name} · live figures`;
  }
  showStatus(s.status, Boolean(s.rehearsal));
  if (numeralsChanged && view.gmv !== null) {
    const r = view.numerals === 'chinese' ? reading(view.gmv) : null;
    $('gmv-reading').hidden = r === null;
    setText('gmv-reading', r ?? '');
  }
}

function showMilestones() {
  const list = $('milestones');
  const items = [...view.milestones.values()].sort((a, b) => (a.crossedAt < b.crossedAt ? -1 : a.crossedAt > b.crossedAt ? 1 : 0));
  const rows = items.map((m) => {
    const li = document.createElement('li');
    li.className = 'milestone';
    li.dataset.id = m.id;
    const tick = document.createElement('span');
    tick.className = 'tick';
    tick.setAttribute('aria-hidden', 'true');
    tick.textContent = '✓';
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = `${m.label} in ${m.elapsed}`;
    const when = document.createElement('span');
    when.className = 'when';
    const time = document.createElement('time');
    time.dateTime = m.crossedAt;
    time.textContent = clock(m.crossedAt);
    when.append('Crossed at ', time, ` · ${integer(m.orders)} orders`);
    li.append(tick, what, when);
    return li;
  });
  list.replaceChildren(...rows);
  $('milestones-empty').hidden = rows.length > 0;
  const next = view.next;
  $('next-milestone').hidden = next === null;
  setText('next-label', next === null ? '' : next.label);
}

function showBoard(id, entries) {
  const list = $(id);
  if (!Array.isArray(entries) || entries.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'No sales yet';
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(
    ...entries.slice(0, BOARD_ROWS).map((e) => {
      const li = document.createElement('li');
      const rank = document.createElement('span');
      rank.className = 'rank';
      rank.textContent = String(e.rank);
      const key = document.createElement('span');
      key.className = 'key';
      key.textContent = String(e.key);
      key.title = String(e.key);
      const share = document.createElement('span');
      share.className = 'share';
      share.textContent = percent(Number(e.share));
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.max(0, Math.min(100, Number(e.share) * 100))}%`;
      bar.append(fill);
      li.append(rank, key, share, bar);
      return li;
    }),
  );
}

function showBoards(b) {
  if (typeof b !== 'object' || b === null) return;
  showBoard('board-brands', b.brands?.night);
  showBoard('board-regions', b.regions?.night);
}

function showConnection(state) {
  view.connection = state;
  const el = $('connection');
  el.dataset.state = state;
  const words = { connecting: 'Connecting…', open: 'Connected, updating every second', reconnecting: 'Connection lost, reconnecting…' };
  el.textContent = state === 'reconnecting' && view.asOf !== '' ? `${words.reconnecting} Figures as of ${clock(view.asOf)}` : words[state];
}

// ---- the per-second chart ----

/** Keeps the newer of two versions of a second (late orders can still add to a recent second). */
function addFrame(f) {
  const start = Date.parse(f.start);
  if (Number.isNaN(start) || f.seconds !== 1) return;
  const had = view.frames.get(start);
  if (had !== undefined && Number(had.total?.orders ?? 0) > Number(f.total?.orders ?? 0)) return;
  view.frames.set(start, { start, gmv: Number(f.gmv), orders: f.orders });
}

function pruneFrames() {
  const starts = [...view.frames.keys()];
  const newest = Math.max(...starts);
  for (const s of starts) if (s <= newest - CHART_SECONDS * 1000) view.frames.delete(s);
}

const chart = { svg: null, width: 0, height: 0 };

function axisMoney(v) {
  if (view.numerals === 'chinese') {
    if (v >= 1e8) return `${+(v / 1e8).toFixed(2)}亿`;
    if (v >= 1e4) return `${+(v / 1e4).toFixed(1)}万`;
    return String(v);
  }
  if (v >= 1e9) return `${+(v / 1e9).toFixed(2)}bn`;
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}m`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(v);
}

function drawChart() {
  const d3 = globalThis.d3;
  const el = $('chart');
  if (d3 === undefined || el === null || view.frames.size === 0) return;
  const width = el.clientWidth;
  const height = el.clientHeight;
  if (width === 0 || height === 0) return;
  if (chart.svg === null) {
    chart.svg = d3.select(el).append('svg');
    chart.svg.append('g').attr('class', 'grid');
    chart.svg.append('path').attr('class', 'area');
    chart.svg.append('path').attr('class', 'line');
    chart.svg.append('g').attr('class', 'axis axis-x');
    chart.svg.append('g').attr('class', 'axis axis-y');
    chart.svg.append('circle').attr('class', 'latest').attr('r', 4);
  }
  const narrow = width < 480;
  const m = { top: 10, right: 12, bottom: 24, left: narrow ? 44 : 56 };
  const data = [...view.frames.values()].sort((a, b) => a.start - b.start);
  const end = data[data.length - 1].start + 1000;
  const x = d3.scaleTime().domain([end - CHART_SECONDS * 1000, end]).range([m.left, width - m.right]);
  const top = d3.max(data, (d) => d.gmv) || 1;
  const y = d3.scaleLinear().domain([0, top * 1.1]).nice(4).range([height - m.bottom, m.top]);
  const svg = chart.svg.attr('viewBox', `0 0 ${width} ${height}`);
  svg.select('.grid').attr('transform', `translate(${m.left},0)`).call(d3.axisLeft(y).ticks(4).tickSize(-(width - m.left - m.right)).tickFormat(''));
  svg.select('.axis-y').attr('transform', `translate(${m.left},0)`).call(d3.axisLeft(y).ticks(4).tickFormat(axisMoney));
  svg.select('.axis-x').attr('transform', `translate(0,${height - m.bottom})`).call(d3.axisBottom(x).ticks(narrow ? 3 : 6).tickFormat(d3.timeFormat('%H:%M:%S')));
  const at = (d) => x(d.start + 500);
  svg.select('.area').datum(data).attr('d', d3.area().x(at).y0(y(0)).y1((d) => y(d.gmv)));
  svg.select('.line').datum(data).attr('d', d3.line().x(at).y((d) => y(d.gmv)));
  const last = data[data.length - 1];
  svg.select('.latest').attr('cx', at(last)).attr('cy', y(last.gmv));
  $('chart').setAttribute('aria-label', `GMV per second over the last three minutes; latest ${money(hundredths(last.gmv.toFixed(2)) ?? 0n)}`);
}

/** The chart's three minutes from the series endpoint: the live snapshot holds only the last two. */
async function loadSeries() {
  const to = Math.floor(Date.now() / 1000);
  try {
    const res = await fetch(`/v1/series?resolution=second&from=${to - CHART_SECONDS}&to=${to}`, { cache: 'no-store' });
    if (!res.ok) return;
    const body = await res.json();
    for (const f of body.frames ?? []) addFrame(f);
    pruneFrames();
    drawChart();
  } catch {
    // The live channel fills the chart anyway.
  }
}

async function loadMilestones() {
  try {
    const res = await fetch('/v1/milestones', { cache: 'no-store' });
    if (!res.ok) return;
    const body = await res.json();
    for (const m of body.milestones ?? []) view.milestones.set(m.id, m);
    view.next = body.next ?? null;
    showMilestones();
  } catch {
    // shown on the next crossing or reconnect
  }
}

// ---- the live channel ----

function onMessage(msg) {
  const { topic, type, data } = msg;
  switch (topic) {
    case 'show':
      showShow(data);
      break;
    case 'totals':
      showTotals(data);
      break;
    case 'second':
      if (type === 'snapshot') {
        for (const f of data.frames ?? []) addFrame(f);
        void loadSeries();
      } else addFrame(data);
      pruneFrames();
      drawChart();
      break;
    case 'milestones':
      if (type === 'snapshot') {
        view.milestones.clear();
        for (const m of data.milestones ?? []) view.milestones.set(m.id, m);
        view.next = data.next ?? null;
        showMilestones();
      } else {
        view.milestones.set(data.id, data);
        showMilestones();
        void loadMilestones(); // for the next threshold
      }
      break;
    case 'leaderboards':
      showBoards(data);
      break;
  }
}

/**
 * Snapshot, then updates at rev + 1 per topic; a gap asks for a fresh snapshot and ignores that topic until it
 * comes (the protocol of aggregator/live-protocol.ts). Reconnects with jittered backoff and resyncs on open.
 */
function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/live`;
  const revs = new Map();
  const resyncing = new Set();
  let attempt = 0;
  let heard = Date.now();
  let socket = null;

  const open = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      heard = Date.now();
      revs.clear();
      resyncing.clear();
      showConnection('open');
      ws.send(JSON.stringify({ op: 'subscribe', topics: TOPICS }));
    };
    ws.onmessage = (ev) => {
      heard = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'snapshot') {
        resyncing.delete(msg.topic);
        revs.set(msg.topic, msg.rev);
        onMessage(msg);
        return;
      }
      if (msg.type !== 'update' || resyncing.has(msg.topic)) return;
      const last = revs.get(msg.topic);
      if (last === undefined || msg.rev <= last) return;
      if (msg.rev !== last + 1) {
        resyncing.add(msg.topic);
        ws.send(JSON.stringify({ op: 'snapshot', topic: msg.topic }));
        return;
      }
      revs.set(msg.topic, msg.rev);
      onMessage(msg);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      showConnection('reconnecting');
      const delay = Math.min(10_000, 250 * 2 ** attempt++) * (0.5 + Math.random() * 0.5);
      setTimeout(open, delay);
    };
  };

  setInterval(() => {
    if (socket !== null && socket.readyState === WebSocket.OPEN && Date.now() - heard > SILENCE_MS) socket.close();
    // A lower figure that lasted is a correction: show it.
    if (view.lower !== null && Date.now() - view.lower.since >= HOLD_LOWER_MS) showTotals(view.lower.totals);
    if (view.connection === 'reconnecting') showConnection('reconnecting');
  }, 1000);
  open();
}

if ('ResizeObserver' in globalThis) new ResizeObserver(() => drawChart()).observe($('chart'));
showConnection('connecting');
connect();
