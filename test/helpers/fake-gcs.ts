/**
 * A local HTTP server speaking the parts of the GCS JSON API that the real
 * @google-cloud/storage client uses here (multipart upload, media download,
 * list), with objects in memory. It records every request so tests can check
 * what the client sent, and can be told to fail the next requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Metadata part of an upload. */
  metadata?: Record<string, unknown>;
  /** Bytes uploaded. */
  data?: Buffer;
}

export interface FakeGcs {
  endpoint: string;
  requests: RecordedRequest[];
  objects: Map<string, Buffer>;
  /** The next `n` requests answer `status` (e.g. 503). */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Parts of a multipart/related body: headers and bytes of each. */
export function multipartParts(contentType: string, raw: Buffer): { headers: string; data: Buffer }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return [];
  const text = raw.toString('latin1');
  return text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const split = part.indexOf('\r\n\r\n');
      const content = part.slice(split + 4).replace(/\r\n$/, '');
      return { headers: part.slice(0, split), data: Buffer.from(content, 'latin1') };
    });
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(json));
}

function meta(bucket: string, name: string, data: Buffer, generation: number): Record<string, unknown> {
  const crc = new CRC32C();
  crc.update(data);
  const md5Hash = createHash('md5').update(data).digest('base64');
  return { kind: 'storage#object', bucket, name, size: String(data.length), generation: String(generation), id: `${bucket}/${name}/${generation}`, md5Hash, crc32c: crc.toString() };
}

export async function startFakeGcs(bucket: string): Promise<FakeGcs> {
  const objects = new Map<string, Buffer>();
  const requests: RecordedRequest[] = [];
  let failures = 0;
  let failStatus = 503;
  let generation = 1;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const raw = await body(req);
    const rec: RecordedRequest = { method: req.method ?? '', path: url.pathname, query };
    requests.push(rec);
    if (failures > 0) {
      failures--;
      return send(res, failStatus, { error: { code: failStatus, message: `injected failure ${failStatus}` } });
    }
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const b = (upload ?? object ?? list)?.[1];
    if (b !== undefined && b !== bucket) return send(res, 404, { error: { code: 404, message: `no bucket ${b}` } });

    if (upload && req.method === 'POST') {
      const parts = multipartParts(req.headers['content-type'] ?? '', raw);
      const metadata = JSON.parse(parts[0]?.data.toString('utf8') ?? '{}') as Record<string, unknown>;
      const name = String(metadata.name ?? query.name);
      rec.metadata = metadata;
      rec.data = parts[1]?.data ?? Buffer.alloc(0);
      if (query.ifGenerationMatch === '0' && objects.has(name)) {
        return send(res, 412, { error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.' } });
      }
      objects.set(name, rec.data);
      return send(res, 200, meta(bucket, name, rec.data, ++generation));
    }
    if (object && req.method === 'GET') {
      const name = decodeURIComponent(object[2]!);
      const data = objects.get(name);
      if (!data) return send(res, 404, { error: { code: 404, message: `No such object: ${bucket}/${name}` } });
      if (query.alt === 'media') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
        return void res.end(data);
      }
      return send(res, 200, meta(bucket, name, data, generation));
    }
    if (list && req.method === 'GET') {
      const prefix = query.prefix ?? '';
      const items = [...objects].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => meta(bucket, k, v, generation));
      return send(res, 200, { kind: 'storage#objects', items });
    }
    send(res, 501, { error: { code: 501, message: `fake GCS: ${req.method} ${url.pathname} not implemented` } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: { code: 500, message: err.message } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    objects,
    failNext(n, status = 503) {
      failures = n;
      failStatus = status;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
