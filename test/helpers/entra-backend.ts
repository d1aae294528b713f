// An HTTPS web API protected by Entra ID (the fake one): it checks the bearer token it receives the way a
// real resource does (signature from the JWKS, issuer of the token's tenant, audience = the resource, scp)
// and reports what it saw. /forbidden answers Graph's 403 Authorization_RequestDenied; /drip?n=N&ms=M answers
// slowly, /headstall answers its head and goes quiet and /stall never answers (each counted in `abandoned` when
// the hub cuts it off),
// /bighead?bytes=N answers with a header of N bytes, /notmodified a 304 with the Content-Length of its 200.
import { createServer, type Server } from 'node:https';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { FakeEntra } from './fake-entra.js';
import { drip } from './echo-server.js';

export interface EntraBackend {
  url: string;
  resource: string;
  seen: Array<{
    method: string;
    url: string;
    authorization: string | undefined;
    claims: JWTPayload | undefined;
    bytes: number;
    sha256: string;
    cookie: string | undefined;
    contentLength: string | undefined;
    chunked: boolean;
    hubTokenHeader: string | undefined;
    rawHeaders: string[];
  }>;
  readonly abandoned: number;
  close(): Promise<void>;
}

export async function startEntraBackend(entra: FakeEntra, resource: string): Promise<EntraBackend> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(entra.ca.caPath, 'utf8') } });
  const seen: EntraBackend['seen'] = [];
  let abandoned = 0;
  const keys = async () => {
    const r = await request(`${entra.authorityHost}/common/discovery/v2.0/keys`, { dispatcher });
    return createLocalJWKSet((await r.body.json()) as { keys: [] });
  };
  const server: Server = createServer({ key: entra.ca.key, cert: entra.ca.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on(
      'end',
      () =>
        void (async () => {
          const body = Buffer.concat(chunks);
          const auth = req.headers.authorization;
          let claims: JWTPayload | undefined;
          try {
            const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1] ?? '';
            const tid = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}').tid as string;
            ({ payload: claims } = await jwtVerify(token, await keys(), { issuer: entra.issuer(tid), audience: resource, algorithms: ['RS256'] }));
            if (
              !String(claims.scp ?? '')
                .split(' ')
                .includes('Data.Read')
            )
              throw new Error('scope');
          } catch {
            claims = undefined;
          }
          seen.push({
            method: req.method ?? '',
            url: req.url ?? '',
            authorization: auth,
            claims,
            bytes: body.length,
            sha256: createHash('sha256').update(body).digest('hex'),
            cookie: req.headers.cookie,
            contentLength: req.headers['content-length'],
            chunked: /chunked/i.test(req.headers['transfer-encoding'] ?? ''),
            hubTokenHeader: req.headers['x-gatehouse-authorization'] as string | undefined,
            rawHeaders: req.rawHeaders,
          });
          if (!claims) {
            res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
            return;
          }
          if ((req.url ?? '').includes('/forbidden')) {
            res
              .writeHead(403, { 'content-type': 'application/json' })
              .end(JSON.stringify({ error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } }));
            return;
          }
          const slow = /\/drip\?n=(\d+)&ms=(\d+)/.exec(req.url ?? '');
          if (slow) {
            drip(res, Number(slow[1]), Number(slow[2]));
            return;
          }
          if ((req.url ?? '').includes('/stall')) {
            res.on('close', () => {
              if (!res.writableFinished) abandoned++;
            });
            return;
          }
          if ((req.url ?? '').includes('/headstall')) {
            res.on('close', () => {
              if (!res.writableFinished) abandoned++;
            });
            res.writeHead(200, { 'content-type': 'text/plain' }).write('partial');
            return;
          }
          if ((req.url ?? '').includes('/notmodified')) {
            res.writeHead(304, { etag: '"v1"', 'content-length': '1000' }).end();
            return;
          }
          const bighead = /\/bighead\?bytes=(\d+)/.exec(req.url ?? '');
          if (bighead) {
            res.writeHead(200, { 'x-big': 'b'.repeat(Number(bighead[1])) }).end('ok');
            return;
          }
          const big = /\/large\?bytes=(\d+)/.exec(req.url ?? '');
          if (big) {
            res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(Number(big[1]), 7));
            return;
          }
          if ((req.url ?? '').includes('/echo')) {
            res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, oid: claims.oid, scp: claims.scp, path: req.url }));
        })(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
    resource,
    seen,
    get abandoned() {
      return abandoned;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
        void dispatcher.close();
      }),
  };
}
