/**
 * Weekly recommendations: every Monday 06:00 (Europe/Berlin), retrain a
 * matrix-factorization recommender on the last 90 days of interactions,
 * publish it (promoted to production when it beats the current one), and
 * serve fresh top-k recommendations from the production model.
 *
 *   seed → extract → prepare → load → features → training_data → train → publish
 *                                                      └────────────────────┴→ recommend → write_recs → serve
 */
import { fileURLToPath } from 'node:url';
import {
  definePipeline,
  kvExport,
  registryPublish,
  step,
  train,
  transform,
  warehouseExtract,
  warehouseLoad,
  warehouseQuery,
  warehouseWrite,
} from '../../flows/index.js';
import { EXTRACT_EVENTS, FEATURES, SEED, TRAINING_DATA } from './sql.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const seed = step('seed', warehouseQuery, ({ params, logicalTime }) => ({
  sql: SEED,
  params: { logical_time: logicalTime, users: Number(params.users), items: Number(params.items), events_per_user: 25 },
}));

const extract = step('extract', warehouseExtract, ({ logicalTime }) => ({ sql: EXTRACT_EVENTS, params: { logical_time: logicalTime }, format: 'ndjson' as const }), {
  dependsOn: [seed],
});

const prepare = step(
  'prepare',
  transform,
  {
    inputs: { events: { from: 'extract' } },
    outputs: { clean: 'interactions_clean.ndjson' },
    script: { language: 'python', path: here('./prepare.py'), args: ['{input.events}', '{output.clean}', '--min-events', '5'] },
  },
  { dependsOn: [extract] },
);

const load = step(
  'load',
  warehouseLoad,
  {
    table: 'staging_interactions',
    files: { from: 'prepare' },
    writeDisposition: 'truncate',
    schema: { user_id: 'BIGINT', item_id: 'BIGINT', weight: 'DOUBLE', ts: 'TIMESTAMP' },
  },
  { dependsOn: [prepare] },
);

const features = step(
  'features',
  warehouseQuery,
  { sql: FEATURES, params: { min_items: 5 }, destination: { table: 'training_examples', writeDisposition: 'truncate' } },
  { dependsOn: [load] },
);

const trainingData = step('training_data', warehouseExtract, { sql: TRAINING_DATA, format: 'ndjson' }, { dependsOn: [features] });

const trainStep = step(
  'train',
  train,
  ({ params }) => ({
    script: here('./train_mf.py'),
    args: ['--epochs', String(params.epochs), '--dim', '32', '--k', '10'],
    inputs: { data: { from: 'training_data' } },
  }),
  { dependsOn: [trainingData], timeoutMs: 10 * 60_000, retries: 1 },
);

const publish = step(
  'publish',
  registryPublish,
  ({ params }) => ({
    model: 'weekly-recs-mf',
    artifact: { from: 'train', file: 'model' },
    metrics: { from: 'train' },
    params: { epochs: Number(params.epochs), dim: 32 },
    inputTables: ['interactions', 'training_examples'],
    promote: { alias: 'production', metric: 'recall_at_10', direction: 'max' as const, threshold: 0.05, beatCurrent: true },
  }),
  { dependsOn: [trainStep] },
);

const recommend = step(
  'recommend',
  transform,
  {
    inputs: { model: { from: 'publish', file: 'production' }, interactions: { from: 'training_data' } },
    outputs: { recs: 'recommendations.ndjson' },
    script: { language: 'python', path: here('./recommend.py'), args: ['{input.model}', '{input.interactions}', '{output.recs}', '--k', '10'] },
  },
  { dependsOn: [publish, trainingData] },
);

const writeRecs = step(
  'write_recs',
  warehouseWrite,
  ({ logicalTime }) => ({
    table: 'recommendations',
    from: { from: 'recommend' },
    columns: { user_id: 'BIGINT', items: 'BIGINT[]', scores: 'DOUBLE[]' },
    partition: { column: 'run_date', value: logicalTime.slice(0, 10) },
  }),
  { dependsOn: [recommend] },
);

const serve = step(
  'serve',
  kvExport,
  { namespace: 'recs', from: { from: 'recommend' }, key: 'user_id', value: ['items', 'scores'], batchSize: 500 },
  { dependsOn: [recommend, writeRecs] },
);

export default definePipeline({
  id: 'weekly-recommendations',
  description: 'weekly matrix-factorization recommender: extract, prepare, train, publish, score, serve',
  owner: 'ml-platform',
  params: {
    users: { type: 'int', default: 2000, description: 'synthetic users (first run only)' },
    items: { type: 'int', default: 400, description: 'synthetic items (first run only)' },
    epochs: { type: 'int', default: 20 },
  },
  schedule: { cron: '0 6 * * 1', tz: 'Europe/Berlin' },
  steps: [seed, extract, prepare, load, features, trainingData, trainStep, publish, recommend, writeRecs, serve],
});
