/**
 * Run and job ids. A run id is `<pipeline>.<key>`; the key is given by the
 * caller (a schedule tick, a backfill date) so the same key can never make two
 * runs, or generated for manual runs. BullMQ job ids cannot hold ":".
 */
import { randomBytes } from 'node:crypto';
import { RunRequestError } from './errors.js';

const KEY = /^[A-Za-z0-9_-]{1,100}$/;

export function runIdFor(pipeline: string, key: string): string {
  if (!KEY.test(key)) {
    throw new RunRequestError(`invalid run key ${JSON.stringify(key)}: use 1-100 letters, digits, "-" or "_"`);
  }
  return `${pipeline}.${key}`;
}

/** Key of a run that stands for `time`: `20261130T060000Z`. */
export function keyForTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** A fresh key for a manual run, sortable by creation time. */
export function manualKey(now = Date.now()): string {
  return `m${now.toString(36)}${randomBytes(3).toString('hex')}`;
}

export function pipelineOfRun(runId: string): string {
  return runId.slice(0, runId.indexOf('.'));
}

export function stepJobId(runId: string, stepId: string): string {
  return `${runId}.${stepId}`;
}

/** Gate of the edge `target` → `dependent`, a child of the dependent's job. */
export function gateJobId(runId: string, target: string, dependent: string): string {
  return `${runId}.${target}>${dependent}`;
}
