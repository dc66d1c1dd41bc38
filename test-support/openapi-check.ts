// Holds HTTP answers to an OpenAPI 3.1 document strictly, for system tests: the status must be documented for the
// operation, documented required headers present and valid, the body valid against its schema (ajv, JSON Schema
// 2020-12, formats); and finds the object schemas of answers that would let an undocumented field through.
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

type Json = Record<string, unknown>;
interface HeaderDoc {
  required?: boolean;
  schema: object;
}
interface ResponseDoc {
  headers?: Record<string, HeaderDoc | { $ref: string }>;
  content?: Record<string, { schema: object }>;
}
export interface OperationDoc {
  responses: Record<string, ResponseDoc | { $ref: string }>;
}
export interface OpenApiDoc {
  paths: Record<string, Record<string, OperationDoc>>;
  components: Json;
}

const isRef = (x: unknown): x is { $ref: string } => typeof x === 'object' && x !== null && '$ref' in x;

/** Resolves a local `#/...` reference of the document. */
export function resolveRef(doc: object, ref: string): unknown {
  let at: unknown = doc;
  for (const p of ref.replace(/^#\//, '').split('/')) at = (at as Json)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (at === undefined) throw new Error(`unresolved reference ${ref}`);
  return at;
}

export function createOpenApiCheck(doc: OpenApiDoc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // ajv-formats is CommonJS: its function is the default export's `default`.
  formats.default(ajv);
  const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
  let n = 0;
  const deref = <T>(x: T | { $ref: string }): T => (isRef(x) ? (resolveRef(doc, x.$ref) as T) : x);

  /** Validates a value against a schema of the document (its refs resolve inside the document). */
  function check(schema: object, value: unknown, what: string): void {
    let validate = compiled.get(schema);
    if (validate === undefined) compiled.set(schema, (validate = ajv.compile({ $id: `openapi-check:${n++}`, ...schema, components: doc.components })));
    if (!validate(value)) throw new Error(`${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value).slice(0, 600)}`);
  }

  /** The documented operation, or an error naming what is missing. */
  function operation(method: string, path: string): OperationDoc {
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (op === undefined) throw new Error(`${method} ${path} is not documented`);
    return op;
  }

  /** An answer held to the operation's documentation for its status; returns the parsed body (null when none). */
  async function conforms(method: string, path: string, res: Response, what = `${method} ${path}`): Promise<unknown> {
    const op = operation(method, path);
    const body = await res.text();
    const documented = op.responses[String(res.status)];
    if (documented === undefined) throw new Error(`${what}: status ${res.status} is not documented (${body.slice(0, 300)})`);
    const r = deref(documented);
    for (const [name, h] of Object.entries(r.headers ?? {})) {
      const hd = deref(h);
      const value = res.headers.get(name);
      if (value === null) {
        if (hd.required === true) throw new Error(`${what}: required header ${name} missing`);
        continue;
      }
      check(hd.schema, value, `${what} header ${name}`);
    }
    if (r.content === undefined) {
      if (body !== '') throw new Error(`${what}: no body documented for ${res.status}, got ${body.slice(0, 200)}`);
      return null;
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = r.content[type];
    if (media === undefined) throw new Error(`${what}: content type "${type}" not documented for ${res.status} (${Object.keys(r.content).join(', ')})`);
    const value: unknown = type === 'application/json' ? JSON.parse(body) : body;
    check(media.schema, value, `${what} ${res.status}`);
    return value;
  }

  return { check, conforms, operation, deref };
}

/** Keywords whose values are data, not schemas. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'example', 'examples']);

/**
 * JSON pointers of the schemas reachable from any documented answer that would accept a field the document does
 * not name: an object schema with `properties` but no `additionalProperties: false`, or an object schema with no
 * properties that does not say what its members are (`additionalProperties` a schema, or an explicit `true` for
 * free-form data).
 */
export function openObjectSchemas(doc: OpenApiDoc): string[] {
  const open: string[] = [];
  const seen = new Set<string>();
  const visit = (node: unknown, at: string): void => {
    if (Array.isArray(node)) return node.forEach((x, i) => visit(x, `${at}/${i}`));
    if (typeof node !== 'object' || node === null) return;
    const o = node as Json;
    if (typeof o.$ref === 'string') {
      if (!seen.has(o.$ref)) {
        seen.add(o.$ref);
        visit(resolveRef(doc, o.$ref), o.$ref);
      }
      return;
    }
    const isObject = o.type === 'object' || (Array.isArray(o.type) && o.type.includes('object'));
    if (o.properties !== undefined ? o.additionalProperties !== false : isObject && o.additionalProperties === undefined) open.push(at);
    for (const [k, v] of Object.entries(o)) if (!DATA_KEYWORDS.has(k)) visit(v, `${at}/${k}`);
  };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        const res = (isRef(r) ? resolveRef(doc, r.$ref) : r) as ResponseDoc;
        for (const [type, media] of Object.entries(res.content ?? {})) visit(media.schema, `paths${path}/${method}/responses/${status}/${type}`);
      }
    }
  }
  return open;
}
