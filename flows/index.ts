/** Public API for pipeline authors: `import { definePipeline, step, task, shell } from 'bullpen'`. */
export { definePipeline, defineStepType, step, stepOf, task, isPipeline, stepTypeName } from './define.js';
export type { DepsOf, OutputOf, PipelineSpec, StepInput, StepSpec } from './define.js';
export { shell, taskType, BUILTIN_STEP_TYPES } from './builtin.js';
export type { ShellOutput } from './builtin.js';
export { PipelineDefinitionError, RunRequestError, formatProblem } from './errors.js';
export { validatePipelines, assertValid, catalogOf, inputIssues } from './validate.js';
export type { StepTypeCatalog } from './validate.js';
export { compileRun, poolOf } from './compile.js';
export type { CompileOptions, PlanAdmit, PlanAdmitGate, PlanConst, PlanGate, PlanNode, PlanStep, RunPlan, RunRequestInfo } from './compile.js';
export { loadPipelines } from './load.js';
export { resolveParams } from './params.js';
export { runIdFor, keyForTime, manualKey, pipelineOfRun, stepJobId, gateJobId } from './ids.js';
export { cronError, isValidTimeZone, latestTick, nextTicks, previousTick, ticksBetween } from './schedule.js';
export type * from './types.js';
export {
  fileRef,
  warehouseExtract,
  warehouseLoad,
  warehouseQuery,
  warehouseWrite,
  transform,
  transformFn,
  train,
  registryPublish,
  kvExport,
  ML_STEP_TYPES,
} from './ml-steps.js';
export type {
  FileRef,
  FileFormat,
  FilesOutput,
  ExtractOutput,
  LoadOutput,
  QueryOutput,
  WriteOutput,
  WriteDisposition,
  TrainOutput,
  PublishOutput,
  KvExportOutput,
  TransformContext,
} from './ml-steps.js';
