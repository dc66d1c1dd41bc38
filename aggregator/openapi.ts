// The OpenAPI 3.1 document of the public feed, served at GET /v1/openapi.json. The schemas are strict (no
// undocumented fields), so the test that requests every path and validates each answer against them keeps the
// document and the routes in step.
import type { ShowConfig } from '../domain/show.ts';
import { MAX_SERIES_POINTS } from './feed-routes.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });
const answer = (name: string) => ({ $ref: `#/components/responses/${name}` });

const obj = (properties: Record<string, object>, required = Object.keys(properties)) => ({ type: 'object', additionalProperties: false, required, properties });
/** A closed object whose `optional` properties may be absent. */
const objWith = (properties: Record<string, object>, optional: Record<string, object>) => obj({ ...properties, ...optional }, Object.keys(properties));

/** Headers of every successful answer. */
const CACHED = { ETag: header('ETag'), 'Cache-Control': header('CacheControl'), RateLimit: header('RateLimit'), 'RateLimit-Policy': header('RateLimitPolicy') };

const json = (schema: object, description: string) => ({ description, headers: CACHED, content: { 'application/json': { schema } } });
const csv = (description: string, columns: string) => ({
  description: `${description} CSV (RFC 4180, CRLF line ends, UTF-8 with a byte-order mark, a header row: ${columns}). Text from order systems that a spreadsheet would run as a formula (first character = + - @) gets a leading apostrophe.`,
  headers: { ...CACHED, 'Content-Disposition': { description: 'inline; filename="…csv"', schema: { type: 'string' } } },
  content: { 'text/csv': { schema: { type: 'string' } } },
});

/** A GET of the feed: parameters, the success answer, and the errors every feed route can give. */
function get(summary: string, ok: object, params: object[] = [], errors: string[] = []) {
  const responses: Record<string, object> = { '200': ok, '304': answer('NotModified'), '429': answer('TooManyRequests') };
  for (const e of errors) responses[e] = answer(e === '400' ? 'BadRequest' : 'NotFound');
  return { get: { summary, parameters: [...params, param('IfNoneMatch')], responses } };
}

const MONEY = { type: 'string', pattern: '^\\d+\\.\\d{2}$', description: 'Exact decimal in the display currency, two fraction digits.', examples: ['1234567.89'] };
const SIGNED_MONEY = { type: 'string', pattern: '^-?\\d+\\.\\d{2}$' };
const SHARE = { type: 'number', minimum: 0, maximum: 1 };
const COUNT = { type: 'integer', minimum: 0 };
const INSTANT = { type: 'string', format: 'date-time' };
const FIGURES = {
  gmv: ref('Money'),
  orders: COUNT,
  mobileShare: { ...SHARE, description: 'Mobile GMV over GMV, 0 to 1 (0 without GMV).' },
  mobileOrderShare: { ...SHARE, description: 'Mobile orders over orders, 0 to 1.' },
};
const META = {
  currency: ref('Currency'),
  status: ref('Status'),
  unaudited: ref('Unaudited'),
};

/** What a cluster node's document adds: GET /v1/cluster and its schemas. */
function clusterPaths(): { paths: Record<string, object>; schemas: Record<string, object> } {
  const PORT = { type: 'integer', minimum: 1, maximum: 65535 };
  const NODE_ID = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,32}$' };
  return {
    paths: {
      '/v1/cluster': get(
        'The cluster: its nodes, the partitions each owns, how an order id maps to its owner, and each node\'s state as this node sees it.',
        json(ref('Cluster'), 'The cluster as this node sees it.'),
      ),
    },
    schemas: {
      Cluster: objWith(
        {
          clickhouseCluster: { type: 'string', description: "The ClickHouse cluster's name (in its servers' remote_servers)." },
          self: { ...NODE_ID, description: 'The node that answered.' },
          coordinator: { ...NODE_ID, description: 'The node holding the control state and recording milestones: the first of `nodes`.' },
          partitions: { type: 'integer', minimum: 1, maximum: 4096, description: 'How many partitions the order-id space is cut into.' },
          mapping: objWith(
            {
              fingerprint: { const: 'gala-fp64', description: "The order id's 64-bit fingerprint, as two 32-bit halves [fingerprintHi, fingerprintLo] (docs/cluster.md)." },
              reference: { type: 'string', description: 'Where the reference implementation is.' },
              partition: { const: 'fingerprintLo mod partitions' },
              owner: {
                enum: ['nodes[partition mod nodes.length]', "the shard's lease holder (see shards[])"],
                description: 'Unreplicated: a fixed node. Replicated: the current holder of the partition\'s shard lease, `shards[shard - 1].owner`; a client that is answered `unavailable` reads this map again.',
              },
            },
            { shard: { const: 'partition mod shards + 1', description: 'Replicated clusters only: the shard holding the partition, for the night.' } },
          ),
          nodes: { type: 'array', minItems: 1, items: ref('ClusterNode'), description: 'In the cluster file\'s order, which the unreplicated owner formula indexes.' },
        },
        {
          shards: { type: 'array', items: ref('ClusterShard'), description: 'Replicated clusters only: every shard\'s lease, by shard number.' },
          lastTakeover: {
            oneOf: [
              { type: 'null' },
              obj({
                shard: { type: 'integer', minimum: 1 },
                from: { oneOf: [{ type: 'null' }, NODE_ID], description: 'The previous holder; null when the shard was vacant.' },
                to: NODE_ID,
                epoch: { type: 'integer', minimum: 0 },
                at: { ...INSTANT, description: 'When the new holder started acking.' },
                tookMs: { type: 'integer', minimum: 0, description: "From the old holder's loss to the new holder's first ack." },
              }),
            ],
            description: 'Replicated clusters only: the last change of a shard\'s owner this node knows of.',
          },
        },
      ),
      ClusterShard: obj({
        shard: { type: 'integer', minimum: 1 },
        owner: { oneOf: [{ type: 'null' }, NODE_ID], description: 'The lease holder; null while the shard is vacant (its orders are answered `unavailable`).' },
        epoch: { type: 'integer', minimum: 0, description: 'Grows with every change of owner.' },
        serving: { type: 'boolean', description: 'The holder rebuilt from its replica and acks; false while it rebuilds.' },
        since: { oneOf: [{ type: 'null' }, INSTANT] },
        partitions: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'The shard\'s partitions, ascending.' },
        nodes: { type: 'array', items: NODE_ID, description: 'The nodes on a replica of the shard, the preferred owner first.' },
      }),
      ClusterNode: objWith(
        {
          id: NODE_ID,
          host: { type: 'string' },
          httpPort: PORT,
          ingestPort: PORT,
          ingest: { type: 'string', format: 'uri', description: "The node's ingest WebSocket (the batch protocol); `POST /v1/orders` on the same port." },
          coordinator: { type: 'boolean' },
          partitions: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'The partitions this node owns now, ascending (replicated: those of the shard whose lease it holds).' },
          state: { type: 'string', enum: ['up', 'down', 'unknown'], description: '`up` reachable, `down` its link failed, `unknown` not tried yet.' },
        },
        {
          stateSince: { ...INSTANT, description: 'Since when.' },
          stateReason: { type: 'string', description: 'Why it is down.' },
          shard: { type: 'integer', minimum: 1, description: 'Replicated clusters only: the shard whose replica the node writes to.' },
          replica: {
            oneOf: [
              { type: 'null' },
              objWith(
                { delaySeconds: { oneOf: [{ type: 'null' }, { type: 'number', minimum: 0 }], description: 'Seconds behind the freshest replica of its shard.' } },
                { queueSize: { type: 'integer', minimum: 0 }, readonly: { type: 'boolean', description: 'The replica refuses inserts.' } },
              ),
            ],
            description: 'Replicated clusters only: its ClickHouse replica\'s lag; null when unknown.',
          },
          zookeeper: { type: 'string', description: 'Replicated clusters only: its ZooKeeper state as the answering node sees it (its own session; a peer\'s membership).' },
        },
      ),
    },
  };
}

/** The document; `cluster` adds what a cluster node serves besides the feed (GET /v1/cluster). */
export function publicOpenApi(show: ShowConfig, opts: { cluster?: boolean } = {}): object {
  const cluster = opts.cluster === true ? clusterPaths() : { paths: {}, schemas: {} };
  return {
    openapi: '3.1.0',
    info: {
      title: `Gala public feed: ${show.name}`,
      version: '1.0.0',
      summary: 'Live, unaudited figures of the gala for the press: read-only, no authentication.',
      description: [
        `Money is exact: decimal strings with two fraction digits in the display currency (${show.currency}), each currency summed in its own minor units and converted at the show's fixed rates (round half to even).`,
        'Every figure is **unaudited**; `status` is `live` during the show and `final` once it has ended and a reconciliation with storage agreed.',
        'Every GET answers with a strong `ETag` and `304 Not Modified` to a matching `If-None-Match`, and with `Cache-Control` suited to a CDN. CORS is open to every origin.',
        'Each client address has a token bucket (`RateLimit-Policy`, `RateLimit` per draft-ietf-httpapi-ratelimit-headers); past it the answer is `429` with `Retry-After`.',
        'The live state channel `ws://HOST/v1/live` (WebSocket; protocol in the README) carries the same figures to screens: `{"op":"subscribe","topics":["totals","second",…]}`, then a snapshot and updates numbered `rev`.',
      ].join('\n\n'),
    },
    servers: [{ url: '/', description: 'this server' }],
    paths: {
      '/v1/stats': {
        ...get('The live snapshot: GMV, orders, mobile share, as of an instant.', json(ref('Stats'), 'The figures now.')),
        head: { summary: 'The headers of GET /v1/stats (ETag to poll cheaply).', parameters: [param('IfNoneMatch')], responses: { '200': { description: 'As GET, without a body.', headers: CACHED }, '304': answer('NotModified'), '429': answer('TooManyRequests') } },
      },
      '/v1/stats/stream': {
        get: {
          summary: 'Server-Sent Events: the snapshot once a second, each milestone as it is crossed.',
          description:
            '`event: stats` once a second (`data:` the same object as /v1/stats, `id:` the epoch second), `event: milestone` on each crossing (`data:` a Milestone), a `: heartbeat` comment every 15 s. ' +
            'Send `Last-Event-ID` (or `?lastEventId=`) to resume: the events held after it (the last 300) are sent first; an id older than those gets the current figures. A stream that leaves 256 KiB unread is closed.',
          parameters: [
            { name: 'Last-Event-ID', in: 'header', required: false, description: 'The id of the last event received.', schema: { type: 'string' } },
            { name: 'lastEventId', in: 'query', required: false, description: 'The same, for clients that cannot set headers.', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'The stream.', headers: { 'Cache-Control': { schema: { type: 'string', const: 'no-cache, no-transform' } } }, content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '429': answer('TooManyRequests'),
            '503': { description: 'Too many streams open on this server; try again after Retry-After.', headers: { 'Retry-After': header('RetryAfter') }, content: { 'application/json': { schema: ref('Error') } } },
          },
        },
      },
      '/v1/series': get('Per-second or per-minute figures by paid-at time.', json(ref('Series'), 'The frames from `from` (inclusive) to `to` (exclusive).'), [param('Resolution'), param('From'), param('To')], ['400']),
      '/v1/series.csv': get('The series as CSV.', csv('One row per frame.', 'start, seconds, gmv, orders, mobile_share, mobile_order_share, currency'), [param('Resolution'), param('From'), param('To')], ['400']),
      '/v1/milestones': get('Milestones crossed, with the instant and the time since the show started, and the next one.', json(ref('Milestones'), 'Milestones crossed, oldest first.')),
      '/v1/milestones.csv': get('Milestones crossed, as CSV.', csv('One row per milestone crossed.', 'id, label, threshold, currency, crossed_at, elapsed_ms, elapsed, total, orders')),
      '/v1/leaderboards/{board}': get('Top brands, products (SKU) or regions by GMV.', json(ref('Leaderboard'), 'The board, highest GMV first.'), [param('Board'), param('Window'), param('Limit')], ['400', '404']),
      '/v1/leaderboards/{board}.csv': get('A board as CSV.', csv('One row per entry.', 'rank, key, gmv, orders, share, currency, window, minute'), [param('Board'), param('Window'), param('Limit')], ['400', '404']),
      '/v1/products/{sku}': get("One product's live sales (see now, buy now).", json(ref('Product'), 'Units sold and GMV of the product; zero when it has sold nothing.'), [param('Sku')], ['400']),
      '/v1/openapi.json': get('This document.', json(ref('Document'), 'The OpenAPI 3.1 document.')),
      ...cluster.paths,
    },
    components: {
      schemas: {
        Money: MONEY,
        Currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code of the display currency.', examples: [show.currency] },
        Status: { type: 'string', enum: ['live', 'final'], description: '`final` once the show has ended and a reconciliation after it agreed with storage.' },
        Unaudited: { const: true, description: 'Always true: these are live figures, not audited results.' },
        Error: obj({ error: { type: 'string', description: 'What is wrong, naming the parameter and the rule.' } }),
        Document: {
          ...obj({
            openapi: { const: '3.1.0' },
            info: { type: 'object', additionalProperties: true },
            servers: { type: 'array' },
            paths: { type: 'object', additionalProperties: true },
            components: { type: 'object', additionalProperties: true },
          }),
          description: 'This OpenAPI 3.1 document: its parts are described by the OpenAPI specification, not here.',
        },
        Stats: objWith({
          ...META,
          ...FIGURES,
          asOf: { ...INSTANT, description: 'The instant the snapshot describes.' },
          revision: { ...COUNT, description: 'Bumped on every change of the totals in this server process.' },
          byCurrency: { type: 'object', description: 'Exact sums per order currency, in that currency.', additionalProperties: obj({ amount: ref('Money'), orders: COUNT }) },
          lastSecond: { oneOf: [{ type: 'null' }, obj({ second: INSTANT, ...FIGURES })], description: 'The last complete paid-at second.' },
          gmvPerSecond: { ...MONEY, description: 'GMV per second over the last five complete seconds.' },
          ordersPerSecond: { type: 'number', minimum: 0 },
          reconciliation: ref('Reconciliation'),
        }, { rehearsal: { const: true, description: "Present only in a rehearsal: simulated orders, never the night's figures." } }),
        Reconciliation: obj({
          checkedAt: { oneOf: [{ type: 'null' }, INSTANT], description: 'When the live totals were last compared with storage.' },
          drift: { type: 'object', additionalProperties: SIGNED_MONEY, description: 'Live minus stored, per currency; empty when they agree.' },
          repairs: COUNT,
          lateDuplicates: obj({ copies: COUNT, gmv: ref('Money'), ids: { type: 'array', items: { type: 'string' }, maxItems: 100 } }),
        }),
        Frame: obj({
          start: { ...INSTANT, description: 'Start of the paid-at second or minute.' },
          seconds: { type: 'integer', enum: [1, 60] },
          ...FIGURES,
          total: obj({ gmv: ref('Money'), orders: COUNT }),
        }),
        Series: obj({ ...META, resolution: { type: 'string', enum: ['second', 'minute'] }, frames: { type: 'array', items: ref('Frame'), maxItems: MAX_SERIES_POINTS } }),
        Milestone: obj({
          id: { type: 'string' },
          label: { type: 'string', examples: ['¥1 billion'] },
          threshold: ref('Money'),
          currency: ref('Currency'),
          crossedAt: { ...INSTANT, description: 'The paid-at instant of the order that took the running total over the threshold.' },
          elapsedMs: { ...COUNT, description: "Since the show's start." },
          elapsed: { type: 'string', examples: ['2 min 58 s'] },
          total: ref('Money'),
          orders: COUNT,
        }),
        Milestones: obj({
          ...META,
          milestones: { type: 'array', items: ref('Milestone') },
          next: { oneOf: [{ type: 'null' }, obj({ id: { type: 'string' }, label: { type: 'string' }, threshold: ref('Money') })] },
        }),
        LeaderEntry: obj({ rank: { type: 'integer', minimum: 1 }, key: { type: 'string', maxLength: 64 }, gmv: ref('Money'), orders: COUNT, share: SHARE }),
        Leaderboard: obj({
          ...META,
          board: { type: 'string', enum: ['brands', 'products', 'regions'] },
          window: { type: 'string', enum: ['night', 'minute'] },
          minute: { oneOf: [{ type: 'null' }, INSTANT], description: 'With window=minute: the last complete paid-at minute the board covers.' },
          entries: { type: 'array', items: ref('LeaderEntry'), maxItems: 100 },
        }),
        Product: obj({ ...META, at: INSTANT, sku: { type: 'string', minLength: 1, maxLength: 64 }, units: COUNT, gmv: ref('Money') }),
        ...cluster.schemas,
      },
      parameters: {
        IfNoneMatch: { name: 'If-None-Match', in: 'header', required: false, description: 'An ETag received before: answered 304 while it still matches.', schema: { type: 'string' } },
        Resolution: { name: 'resolution', in: 'query', required: false, schema: { type: 'string', enum: ['second', 'minute'], default: 'second' } },
        From: { name: 'from', in: 'query', required: false, description: 'Epoch seconds or an ISO 8601 instant; default 60 steps before `to`.', schema: { type: 'string' }, examples: { epoch: { value: '1794326400' }, iso: { value: '2026-11-11T00:00:00Z' } } },
        To: { name: 'to', in: 'query', required: false, description: `Epoch seconds or an ISO 8601 instant; default the current second or minute. At most ${MAX_SERIES_POINTS} points per request.`, schema: { type: 'string' } },
        Board: { name: 'board', in: 'path', required: true, schema: { type: 'string', enum: ['brands', 'products', 'regions'] } },
        Window: { name: 'window', in: 'query', required: false, description: 'The whole night, or the last complete paid-at minute.', schema: { type: 'string', enum: ['night', 'minute'], default: 'night' } },
        Limit: { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
        Sku: { name: 'sku', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 64 } },
      },
      headers: {
        ETag: { description: 'Strong validator of the body.', required: true, schema: { type: 'string', pattern: '^"[^"]+"$' } },
        CacheControl: { description: 'CDN-friendly: `public, max-age=1, s-maxage=1, stale-while-revalidate=2, stale-if-error=60` on live figures, longer on documents.', required: true, schema: { type: 'string', pattern: '^public, max-age=\\d+' } },
        RateLimit: { description: 'Requests left in this client\'s bucket and seconds until it is full (or until one is available): `"public";r=<left>;t=<seconds>`. Absent when the limit is off.', schema: { type: 'string', pattern: '^"public";r=\\d+;t=\\d+$' } },
        RateLimitPolicy: { description: 'The bucket: `"public";q=<burst>;w=<seconds to fill>`. Absent when the limit is off.', schema: { type: 'string', pattern: '^"public";q=\\d+;w=\\d+$' } },
        RetryAfter: { description: 'Seconds to wait before trying again.', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
      },
      responses: {
        NotModified: { description: 'The If-None-Match ETag still matches: use the copy you hold.', headers: { ETag: header('ETag') } },
        BadRequest: { description: 'A parameter breaks its rule; the error names it.', content: { 'application/json': { schema: ref('Error') } } },
        NotFound: { description: 'No such board.', content: { 'application/json': { schema: ref('Error') } } },
        TooManyRequests: {
          description: "This client's rate limit is spent.",
          headers: { 'Retry-After': header('RetryAfter'), RateLimit: header('RateLimit'), 'RateLimit-Policy': header('RateLimitPolicy') },
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
    },
  };
}
