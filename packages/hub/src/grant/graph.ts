// A small Microsoft Graph client for the grant command: reads are sent, writes can be printed instead
// (--dry-run). Graph's own error code and message are shown as they are.
export interface GraphRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly graphCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

export interface Graph {
  send<T>(req: GraphRequest): Promise<T | undefined>;
  readonly base: string;
}

export function createGraph(base: string, token: string, opts: { dryRun: boolean; print: (line: string) => void }): Graph {
  return {
    base,
    async send<T>(req: GraphRequest): Promise<T | undefined> {
      const url = `${base}/v1.0${req.path}`;
      if (opts.dryRun && req.method !== 'GET') {
        opts.print(`dry run: ${req.method} ${url}${req.body === undefined ? '' : ` ${JSON.stringify(req.body)}`}`);
        return undefined;
      }
      let res: Response;
      try {
        res = await fetch(url, {
          method: req.method,
          headers: { authorization: `Bearer ${token}`, ...(req.body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new GraphError(
          0,
          'Unreachable',
          `cannot reach Microsoft Graph at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`,
        );
      }
      if (res.status === 204) return undefined;
      const text = await res.text();
      if (!res.ok) {
        let code = String(res.status);
        let message = text.slice(0, 500);
        try {
          const e = (JSON.parse(text) as { error: { code: string; message: string } }).error;
          code = e.code;
          message = e.message;
        } catch {
          /* not JSON */
        }
        throw new GraphError(res.status, code, `Microsoft Graph refused ${req.method} ${req.path.split('?')[0]}: ${code}: ${message}`);
      }
      return text ? (JSON.parse(text) as T) : undefined;
    },
  };
}
