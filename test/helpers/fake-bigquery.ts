/**
 * A local HTTP server speaking the parts of the BigQuery v2 REST API that the
 * real @google-cloud/bigquery client uses here: jobs.insert (query and load,
 * including multipart uploads), jobs.get, jobs.getQueryResults, tables.get
 * and tables.insert. It records the jobs the client sends so tests can check
 * job configuration, SQL, parameters, destinations and write dispositions.
 * Query results come from `answer`; a query containing `SYNTAX_ERROR` fails
 * the way BigQuery fails an invalid query.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { multipartParts } from './fake-gcs.js';

export interface FakeJob {
  jobReference: { projectId: string; jobId: string; location?: string };
  configuration: {
    query?: Record<string, unknown> & { query: string };
    load?: Record<string, unknown>;
  };
  /** Bytes of a load from an upload. */
  upload?: Buffer;
}

export interface FakeRows {
  /** Column name → BigQuery type. */
  schema: Record<string, string>;
  rows: unknown[][];
}

export interface FakeBigQuery {
  endpoint: string;
  /** Every request, as `METHOD /path?query`. */
  requests: string[];
  jobs: FakeJob[];
  tables: Map<string, unknown>;
  /** Rows a query returns; default none. */
  answer: (sql: string) => FakeRows;
  /** The next `n` requests answer `status`. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(json));
}

const cell = (v: unknown): unknown => (Array.isArray(v) ? v.map((x) => ({ v: cell(x) })) : v === null ? null : String(v));

export async function startFakeBigQuery(project: string): Promise<FakeBigQuery> {
  const jobs: FakeJob[] = [];
  const tables = new Map<string, unknown>();
  let failures = 0;
  let failStatus = 503;
  const fake: FakeBigQuery = {
    endpoint: '',
    requests: [],
    jobs,
    tables,
    answer: () => ({ schema: {}, rows: [] }),
    failNext(n, status = 503) {
      failures = n;
      failStatus = status;
    },
    close: async () => undefined,
  };

  const resource = (job: FakeJob): Record<string, unknown> => {
    const sql = job.configuration.query?.query ?? '';
    const failed = sql.includes('SYNTAX_ERROR');
    const errorResult = { reason: 'invalidQuery', location: 'query', message: `Syntax error: Unexpected identifier "SYNTAX_ERROR" at [1:8]` };
    const rows = job.configuration.query && !failed ? fake.answer(sql).rows.length : 0;
    return {
      kind: 'bigquery#job',
      id: `${project}:${job.jobReference.jobId}`,
      jobReference: job.jobReference,
      configuration: job.configuration,
      status: failed ? { state: 'DONE', errorResult, errors: [errorResult] } : { state: 'DONE' },
      statistics: job.configuration.load ? { load: { outputRows: String(job.upload ? job.upload.toString().trim().split('\n').length : 3) } } : { query: { totalRows: String(rows) } },
    };
  };

  const insert = (body: Record<string, unknown>, upload?: Buffer): Record<string, unknown> => {
    const ref = (body.jobReference ?? {}) as FakeJob['jobReference'];
    const job: FakeJob = {
      jobReference: { projectId: project, jobId: ref.jobId ?? `job_${randomBytes(6).toString('hex')}`, ...(ref.location ? { location: ref.location } : {}) },
      configuration: body.configuration as FakeJob['configuration'],
      ...(upload ? { upload } : {}),
    };
    jobs.push(job);
    return resource(job);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    fake.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (failures > 0) {
      failures--;
      return send(res, failStatus, { error: { code: failStatus, message: `injected failure ${failStatus}`, errors: [{ reason: 'backendError', message: 'injected' }] } });
    }
    const p = url.pathname;
    const base = `/bigquery/v2/projects/${project}`;
    if (req.method === 'POST' && p === `${base}/jobs`) return send(res, 200, insert(JSON.parse(raw.toString()) as Record<string, unknown>));
    if (req.method === 'POST' && p === `/upload${base}/jobs`) {
      const parts = multipartParts(req.headers['content-type'] ?? '', raw);
      return send(res, 200, insert(JSON.parse(parts[0]?.data.toString() ?? '{}') as Record<string, unknown>, parts[1]?.data));
    }
    const jobGet = new RegExp(`^${base}/jobs/([^/]+)$`).exec(p);
    const results = new RegExp(`^${base}/queries/([^/]+)$`).exec(p);
    const id = (jobGet ?? results)?.[1];
    const job = jobs.find((j) => j.jobReference.jobId === id);
    if (id !== undefined && !job) return send(res, 404, { error: { code: 404, message: `Not found: Job ${project}:${id}` } });
    if (req.method === 'GET' && jobGet) return send(res, 200, resource(job!));
    if (req.method === 'GET' && results) {
      const r = resource(job!);
      const status = r.status as { errorResult?: unknown };
      if (status.errorResult) return send(res, 400, { error: { code: 400, message: (status.errorResult as { message: string }).message, errors: [status.errorResult] } });
      const { schema, rows } = fake.answer(job!.configuration.query?.query ?? '');
      const fields = Object.entries(schema).map(([name, type]) => ({ name, type: type.replace('[]', ''), mode: type.endsWith('[]') ? 'REPEATED' : 'NULLABLE' }));
      return send(res, 200, {
        kind: 'bigquery#getQueryResultsResponse',
        jobReference: job!.jobReference,
        jobComplete: true,
        schema: { fields },
        totalRows: String(rows.length),
        rows: rows.map((r) => ({ f: r.map((v) => ({ v: cell(v) })) })),
      });
    }
    const table = new RegExp(`^${base}/datasets/([^/]+)/tables(?:/([^/]+))?$`).exec(p);
    if (table && req.method === 'GET' && table[2]) {
      const t = tables.get(`${table[1]}.${table[2]}`);
      return t ? send(res, 200, t) : send(res, 404, { error: { code: 404, message: `Not found: Table ${project}:${table[1]}.${table[2]}` } });
    }
    if (table && req.method === 'POST') {
      const body = JSON.parse(raw.toString()) as { tableReference: { tableId: string } };
      tables.set(`${table[1]}.${body.tableReference.tableId}`, body);
      return send(res, 200, body);
    }
    send(res, 501, { error: { code: 501, message: `fake BigQuery: ${req.method} ${p} not implemented` } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: { code: 500, message: err.message } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
