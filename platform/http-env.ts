// The Hono `Env` of every app on the HTTP port: what the socket layer tells a handler beyond the request itself.

/** Set by the uWS bridge (`http/uws-fetch.ts`); absent when an app is called directly, as tests do with `app.request`. */
export interface RequestBindings {
  /** The client's address as text (IPv4 dotted, IPv6 hex groups): the rate limit's key. */
  remoteAddress?: string;
}

/** Set by middleware for the handlers after it. */
export interface RequestVariables {
  /**
   * The host the browser addressed, when another cluster node passed the request on (its token checked): the
   * control room's same-origin rule holds the request's Origin to it rather than to this node's own host.
   */
  peerHost: string | undefined;
}

/** `new Hono<HttpEnv>()`: one type for every app, so that `c.env` means the same everywhere. */
export interface HttpEnv {
  Bindings: RequestBindings;
  Variables: RequestVariables;
}
