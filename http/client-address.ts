// The client's address as text, the key of per-client limits, read the one way uWS allows.
import type { HttpResponse, WebSocket } from 'uWebSockets.js';

/**
 * uWS hands the address over as ASCII text in an ArrayBuffer it owns (IPv4 dotted, IPv6 hex groups): decoded into
 * a string at once. Works on a response and on an open socket alike.
 */
export function clientAddress(from: HttpResponse | WebSocket<unknown>): string {
  return Buffer.from(from.getRemoteAddressAsText()).toString();
}
