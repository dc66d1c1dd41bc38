// The control room's connection to the live channel: LiveClient (subscribers typed by topic, snapshot then updates,
// resync on a revision gap, reconnect with backoff) on this origin, the session cookie authorising the control-room
// topics.
import { LIVE_PATH, LiveClient, type LinkStatus } from '../../protocol/live-protocol.ts';

export type LinkState = LinkStatus;

/** A client of this origin's live channel: subscribe to its topics and listen to its status, then start it. */
export function liveClient(): LiveClient {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${LIVE_PATH}`;
  return new LiveClient({ url, minBackoffMs: 250, maxBackoffMs: 5000 });
}
