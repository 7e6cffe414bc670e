/**
 * A small exact-match router: routes are path templates with `{name}` segments. The API has a
 * handful of routes; a table read and a split beat a framework on the per-request path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  readonly method: string;
  /** The template, also the metrics label. */
  readonly template: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}

export interface RouteMatch {
  readonly route: string;
  readonly handler: Handler;
  readonly params: Record<string, string>;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, template: string, handler: Handler): this {
    this.routes.push({ method, template, segments: template.split('/'), handler });
    return this;
  }

  /** Finds the route; `{ allowed }` when the path exists under other methods only. */
  match(method: string, path: string): RouteMatch | { readonly allowed: string[] } | undefined {
    const parts = path.split('/');
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.push(route.method);
        continue;
      }
      return { route: route.template, handler: route.handler, params };
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }

  /** Every route as `[method, template]`, for the OpenAPI contract test. */
  list(): [string, string][] {
    return this.routes.map((route) => [route.method, route.template]);
  }
}

function matchSegments(
  template: readonly string[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (template.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const expected = template[i] ?? '';
    const actual = parts[i] ?? '';
    if (expected.startsWith('{') && expected.endsWith('}')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        decoded = actual;
      }
      params[expected.slice(1, -1)] = decoded;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
