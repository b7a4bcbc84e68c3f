/**
 * SQL of the weekly-recommendations pipeline. Parameters are `@name` (bound by
 * the warehouse, never spliced). The seed is DuckDB SQL (the local demo);
 * the rest runs on DuckDB and BigQuery alike.
 */

/** First run only: synthetic interactions, users in 8 taste groups, 12 weeks before the logical time. */
export const SEED = [
  'SELECT setseed(0.42)',
  `CREATE TABLE IF NOT EXISTS interactions AS
   WITH users AS (SELECT range AS user_id, range % 8 AS grp FROM range(@users)),
   events AS (SELECT user_id, grp, random() AS r1, random() AS r2, random() AS r3, random() AS r4 FROM users, range(@events_per_user))
   SELECT user_id,
     CASE WHEN r1 < 0.8 THEN grp + 8 * CAST(floor(r2 * (@items / 8)) AS BIGINT) ELSE CAST(floor(r2 * @items) AS BIGINT) END AS item_id,
     CASE WHEN r3 < 0.7 THEN 'view' WHEN r3 < 0.93 THEN 'click' ELSE 'purchase' END AS event,
     CAST(@logical_time AS TIMESTAMP) - to_seconds(CAST(floor(r4 * 86400 * 84) AS BIGINT)) AS ts
   FROM events`,
  'SELECT count(*) AS interactions, count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items FROM interactions',
];

/** The 90 days of events before the logical time. */
export const EXTRACT_EVENTS = `
  SELECT user_id, item_id, event, ts FROM interactions
  WHERE ts >= CAST(@logical_time AS TIMESTAMP) - INTERVAL 90 DAY AND ts < CAST(@logical_time AS TIMESTAMP)`;

/** Training examples: users with enough items; each user's latest item held out for evaluation. */
export const FEATURES = `
  WITH active AS (
    SELECT user_id FROM staging_interactions GROUP BY user_id HAVING count(*) >= @min_items
  ), ranked AS (
    SELECT s.user_id, s.item_id, s.weight,
      row_number() OVER (PARTITION BY s.user_id ORDER BY s.ts DESC, s.item_id) AS recency
    FROM staging_interactions s JOIN active USING (user_id)
  )
  SELECT user_id, item_id, weight, CASE WHEN recency = 1 THEN 'test' ELSE 'train' END AS split FROM ranked`;

export const TRAINING_DATA = 'SELECT user_id, item_id, weight, split FROM training_examples ORDER BY user_id, item_id';
