/**
 * Run control: cancel and retry runs, pause and resume pipelines. The same
 * functions back the CLI and the dashboard.
 */
import type { Redis } from 'ioredis';
import { cancelChannel, pausedKey, runMetaKey } from '../common/names.js';
import { RunRequestError, type PipelineDefinition } from '../flows/index.js';
import type { RunCreator } from './runs.js';
import { TickHandler, type TickResult } from './ticks.js';
import { isFinished, type RunReader, type RunState } from './state.js';

export class UnknownRunError extends RunRequestError {
  override name = 'UnknownRunError';
}

export class RunControl {
  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly runs: RunCreator,
    private readonly reader: RunReader,
  ) {}

  private async run(runId: string): Promise<RunState> {
    const run = await this.reader.get(runId);
    if (!run) throw new UnknownRunError(`unknown run "${runId}"`);
    return run;
  }

  /**
   * Cancels a run: running steps are aborted (their subprocesses killed) in
   * whatever worker runs them, pending steps never start, a run waiting for a
   * slot leaves the line. The run ends as `cancelled`.
   */
  async cancel(runId: string): Promise<RunState> {
    const run = await this.run(runId);
    if (isFinished(run.status)) throw new RunRequestError(`run ${runId} already ended (${run.status}): nothing to cancel`);
    const meta = runMetaKey(this.prefix, runId);
    await this.connection.hset(meta, 'cancelled', Date.now());
    await this.connection.publish(cancelChannel(this.prefix), runId);
    if (run.status === 'waiting') {
      const lane = await this.connection.hget(meta, 'lane');
      // leave the line; the admit job then fails at once, ending the run
      if (lane) await this.runs.admission.wake([...(await this.runs.admission.release(lane, runId)), runId]);
    }
    return this.run(runId);
  }

  /**
   * Retries a failed run: the failed steps and those that never started run
   * again; completed steps are not, and their outputs are reused.
   */
  async retry(runId: string): Promise<{ runId: string; attempt: number; rerun: string[]; reused: string[] }> {
    const run = await this.run(runId);
    if (run.status !== 'failed') throw new RunRequestError(`run ${runId} is ${run.status}: only a failed run can be retried`);
    const pipeline = this.runs.pipeline(run.pipeline);
    const done = run.steps.filter((s) => s.status === 'succeeded');
    const reuse = new Map(done.map((s) => [s.id, s.output]));
    const reusedJobs = new Map(done.map((s) => [s.id, { jobId: s.jobId, queue: s.queue }]));
    const meta = runMetaKey(this.prefix, runId);
    const lane = (await this.connection.hget(meta, 'lane')) ?? pipeline.id;
    const attempt = run.attempt + 1;
    await this.runs.addAttempt({
      pipeline,
      run: { runId, pipeline: pipeline.id, params: run.params, logicalTime: run.logicalTime, dataInterval: run.dataInterval },
      attempt,
      trigger: 'retry',
      lane: { id: lane, limit: pipeline.maxActiveRuns },
      reuse,
      reusedJobs,
    });
    return { runId, attempt, rerun: pipeline.steps.filter((s) => !reuse.has(s.id)).map((s) => s.id), reused: [...reuse.keys()] };
  }

  async pause(pipelineId: string): Promise<PipelineDefinition> {
    const p = this.runs.pipeline(pipelineId);
    await this.connection.sadd(pausedKey(this.prefix), p.id);
    return p;
  }

  /** Unpauses a pipeline; the ticks it missed while paused follow its catchup policy now. */
  async resume(pipelineId: string, now = new Date()): Promise<{ pipeline: PipelineDefinition; ticks: TickResult }> {
    const p = this.runs.pipeline(pipelineId);
    await this.connection.srem(pausedKey(this.prefix), p.id);
    const ticks = await new TickHandler(this.connection, this.prefix, this.runs).handle(p, now);
    return { pipeline: p, ticks };
  }

  async paused(): Promise<Set<string>> {
    return new Set(await this.connection.smembers(pausedKey(this.prefix)));
  }
}
