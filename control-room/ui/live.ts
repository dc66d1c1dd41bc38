// The control room's connection to the live channel: LiveClient (snapshot then updates, resync on a revision
// gap, reconnect with backoff) on this origin, the session cookie authorising the control-room topics.
import { LIVE_PATH, LiveClient, type Topic } from '../../protocol/live-protocol.ts';

export type LinkState = 'connecting' | 'open' | 'closed';

export function connectLive(topics: Topic[], onMessage: (topic: Topic, kind: 'snapshot' | 'update', data: unknown, sentAt: number | null) => void, onStatus: (s: LinkState) => void): LiveClient {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${LIVE_PATH}`;
  const client = new LiveClient({
    url,
    topics,
    onMessage: (m) => onMessage(m.topic, m.type, m.data, 'sentAt' in m && typeof m.sentAt === 'number' ? m.sentAt : null),
    onStatus: (s) => onStatus(s),
    minBackoffMs: 250,
    maxBackoffMs: 5000,
  });
  client.start();
  return client;
}
