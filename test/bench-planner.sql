-- The planner's choice against filter selectivity (issue 18): a table of
-- :rows x :dims vectors (default storage) with a category of 10000 values and
-- a btree index on it, a hybrid cosine index; for category < c (c/10000 of
-- the rows, 0.01% to 100%) it times three plans of the same top-10 query:
--   chosen: whatever the planner picks;
--   hybrid: the hybrid index (the filter made unusable for the btree);
--   btree:  the btree and a top-N sort (the ORDER BY made unusable for the
--           hybrid index).
-- Each is the median of :reps runs (ms), after one warm-up run.  Prints one
-- row per selectivity: the chosen plan's node, the three times, and the
-- chosen time over the better of the other two.  Run by
-- test/bench-planner.sh, which loads the data.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- forced: no sort, no sequential or bitmap scan, so that the hybrid index is taken
CREATE OR REPLACE FUNCTION pg_temp.time_ms(query text, reps int, forced bool) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	times float8[] := '{}';
	setting text;
BEGIN
	FOREACH setting IN ARRAY ARRAY['enable_sort', 'enable_seqscan', 'enable_bitmapscan'] LOOP
		PERFORM set_config(setting, CASE WHEN forced THEN 'off' ELSE 'on' END, true);
	END LOOP;
	EXECUTE query;			-- warm-up
	FOR i IN 1 .. reps LOOP
		t0 := clock_timestamp();
		EXECUTE query;
		times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	RETURN (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t);
END $$;

CREATE OR REPLACE FUNCTION pg_temp.plan_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line ~ 'Index Scan using pt_items_embedding_idx' THEN
			RETURN 'hybrid';
		END IF;
	END LOOP;
	RETURN 'btree/seq';
END $$;

SELECT c AS category_below, round(c / 100.0, 2) AS "selectivity %",
	plan AS chosen_plan,
	round(chosen::numeric, 1) AS chosen_ms, round(hybrid::numeric, 1) AS hybrid_ms,
	round(btree::numeric, 1) AS btree_ms,
	round((chosen / least(hybrid, btree))::numeric, 2) AS chosen_over_best
FROM unnest(ARRAY[1, 10, 50, 100, 200, 300, 500, 1000, 3000, 10000]) c,
	LATERAL (SELECT embedding AS q FROM pt_queries WHERE n = 1) q,
	LATERAL (SELECT
		pg_temp.plan_of(format('SELECT id FROM pt_items WHERE category < %s ORDER BY embedding <=> %L LIMIT 10', c, q)) AS plan,
		pg_temp.time_ms(format('SELECT id FROM pt_items WHERE category < %s ORDER BY embedding <=> %L LIMIT 10', c, q), :reps, false) AS chosen,
		pg_temp.time_ms(format('SELECT id FROM pt_items WHERE category + 0 < %s ORDER BY embedding <=> %L LIMIT 10', c, q), :reps, true) AS hybrid,
		pg_temp.time_ms(format('SELECT id FROM pt_items WHERE category < %s ORDER BY (embedding <=> %L) + 0 LIMIT 10', c, q), :reps, false) AS btree) t
ORDER BY c;
