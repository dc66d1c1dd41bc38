// The OpenAPI 3.1 document of the public feed, served at GET /v1/openapi.json.
import type { ShowConfig } from '../domain/show.ts';

export function publicOpenApi(show: ShowConfig): object {
  return {
    openapi: '3.1.0',
    info: { title: `Gala public feed: ${show.name}`, version: '1.0.0' },
    paths: {},
  };
}
