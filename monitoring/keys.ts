/**
 * Redis keys of monitoring state, all under the queues' prefix (one hash slot
 * in Redis Cluster): event cursors, aggregated counters and histograms, the
 * alert outboxes and open incidents.
 */
export function monitorKey(prefix: string, ...parts: string[]): string {
  return [prefix, 'bullpen', 'monitor', ...parts].join(':');
}

export const keys = {
  /** Hash: queue → id of the last event applied by a consumer (`tally`, `alerts`). */
  cursor: (prefix: string, consumer: string) => monitorKey(prefix, 'cursor', consumer),
  /** Hash: `metric|label values…` → count. */
  counters: (prefix: string) => monitorKey(prefix, 'counters'),
  /** Hash: `metric|label values…|b<i>` (bucket), `…|sum`, `…|count`. */
  histograms: (prefix: string) => monitorKey(prefix, 'histograms'),
  /** Hash: `metric|label values…` → the largest value seen (e.g. last success time). */
  maxima: (prefix: string) => monitorKey(prefix, 'maxima'),
  /** List: alerts waiting to be sent to one sink (FIFO). */
  outbox: (prefix: string, sink: string) => monitorKey(prefix, 'outbox', sink),
  /** List: alerts a sink refused for good (bad channel, bad payload), kept for inspection. */
  dead: (prefix: string, sink: string) => monitorKey(prefix, 'dead', sink),
  /** String: the lease of the one replica sending a sink's outbox. */
  lease: (prefix: string, sink: string) => monitorKey(prefix, 'lease', sink),
  /** Hash: pipeline → run id of its open incident (a failure or missed deadline not yet followed by a success). */
  incidents: (prefix: string) => monitorKey(prefix, 'incidents'),
  /** String: set once a run's missed deadline was alerted. */
  deadlineClaim: (prefix: string, runId: string) => monitorKey(prefix, 'deadline', runId),
};

/** The stream id `a` is later than `b` (ids are `<ms>-<seq>`). */
export const NEWER_LUA = `
local function newer(a, b)
  if not b then return true end
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  return ams > bms or (ams == bms and aseq > bseq)
end`;
