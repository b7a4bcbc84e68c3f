/** The DAG shapes the bench runs, as plain step lists (each system encodes them its own way). */

export interface ShapeStep {
  id: string;
  dependsOn: string[];
}

export interface Shape {
  /** Also the Bullpen pipeline id. */
  id: string;
  /** Label for tables. */
  label: string;
  steps: ShapeStep[];
}

const CHAIN_LENGTH = 8;
const FAN_WIDTH = 10;

/** s1 → s2 → … → s8. */
export const CHAIN8: Shape = {
  id: 'chain8',
  label: '8-step chain',
  steps: Array.from({ length: CHAIN_LENGTH }, (_, i) => ({ id: `s${i + 1}`, dependsOn: i ? [`s${i}`] : [] })),
};

const mids = Array.from({ length: FAN_WIDTH }, (_, i) => `m${i}`);

/** src → m0..m9 → sink. */
export const FAN10: Shape = {
  id: 'fan10',
  label: '1→10→1',
  steps: [{ id: 'src', dependsOn: [] }, ...mids.map((id) => ({ id, dependsOn: ['src'] })), { id: 'sink', dependsOn: mids }],
};

export const SHAPES: readonly Shape[] = [CHAIN8, FAN10];
