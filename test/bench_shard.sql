-- Timing functions of test/bench-shard.sh, created on every server it
-- queries.  bench_run() runs one query form for each query vector, once
-- untimed (warm-up: the backends' dense copies, postgres_fdw's connections)
-- and once timed inside the server (clock_timestamp()), and records the
-- times and how many answers differ from the single server's.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TABLE bench_results (run serial, configuration text, ms float8[], mismatches int);

-- sql selects the ids of the top 10 for the query vector $1, nearest first;
-- truth names a table (q, ids) with the reference answers, or is NULL.
CREATE FUNCTION bench_run(configuration text, sql text, truth regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	query record;
	started timestamptz;
	times float8[] := '{}';
	ids int[];
	expected int[];
	wrong int;
	agg text := format('SELECT array_agg(id) FROM (%s) s', sql);
BEGIN
	wrong := CASE WHEN truth IS NULL THEN NULL ELSE 0 END;
	FOR query IN SELECT * FROM bench_queries ORDER BY q LOOP
		EXECUTE agg INTO ids USING query.embedding;
		started := clock_timestamp();
		EXECUTE agg INTO ids USING query.embedding;
		times := times || extract(epoch FROM clock_timestamp() - started) * 1000;
		IF truth IS NOT NULL THEN
			EXECUTE format('SELECT ids FROM %s WHERE q = $1', truth) INTO expected USING query.q;
			IF ids IS DISTINCT FROM expected THEN
				wrong := wrong + 1;
			END IF;
		END IF;
	END LOOP;
	INSERT INTO bench_results (configuration, ms, mismatches) VALUES (configuration, times, wrong);
END $$;

CREATE FUNCTION bench_percentile(ms float8[], fraction float8) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
	SELECT round(percentile_cont(fraction) WITHIN GROUP (ORDER BY t)::numeric, 2) FROM unnest(ms) t
$$;
