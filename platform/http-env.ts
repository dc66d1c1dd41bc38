// The Hono `Env` of every app on the HTTP port: what the socket layer tells a handler beyond the request itself.

/** Set by the uWS bridge (`http/uws-fetch.ts`); absent when an app is called directly, as tests do with `app.request`. */
export interface RequestBindings {
  /** The client's address as text (IPv4 dotted, IPv6 hex groups): the rate limit's key. */
  remoteAddress?: string;
}

/** `new Hono<HttpEnv>()`: one type for every app, so that `c.env` means the same everywhere. */
export interface HttpEnv {
  Bindings: RequestBindings;
}
