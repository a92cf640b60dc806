-- Where the GPU starts to beat the CPU: p50 of cosine top-10 on the CPU
-- path (cached copy, all cores) and on the GPU path, for growing prefixes of
-- one table.  Run by the GPU runner with psql variables dims, queries and
-- datafile (binary COPY from test/gen_vectors.py, at least 300000 rows).
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS cross_all, cross_queries, cross_results;
CREATE TABLE cross_all (id int, embedding vector(:dims));
COPY cross_all FROM :'datafile' WITH (FORMAT binary);
CREATE TABLE cross_queries AS
SELECT q, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, :dims) WHERE q > 0)::vector AS embedding
FROM generate_series(1, :queries) q;
CREATE TABLE cross_results (rows int, device text, p50 float8);

CREATE FUNCTION cross_run(n int, device text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	query record;
	started timestamptz;
	times float8[] := '{}';
BEGIN
	PERFORM set_config('hybridsearch.device', device, true);
	FOR query IN SELECT * FROM cross_queries ORDER BY q LOOP
		PERFORM id FROM cross_part ORDER BY embedding <=> query.embedding LIMIT 10;
		started := clock_timestamp();
		PERFORM id FROM cross_part ORDER BY embedding <=> query.embedding LIMIT 10;
		times := times || extract(epoch FROM clock_timestamp() - started) * 1000;
	END LOOP;
	INSERT INTO cross_results
	SELECT n, device, percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t;
END $$;

SET enable_seqscan = off;
SET hybridsearch.gpu_min_rows = 0;
DO $$
DECLARE
	n int;
BEGIN
	FOREACH n IN ARRAY ARRAY[10000, 30000, 50000, 100000, 300000] LOOP
		DROP TABLE IF EXISTS cross_part;
		EXECUTE format('CREATE TABLE cross_part AS SELECT * FROM cross_all WHERE id <= %s', n);
		CREATE INDEX ON cross_part USING hybrid (embedding vector_cosine_ops);
		ANALYZE cross_part;
		PERFORM cross_run(n, 'cpu');
		PERFORM cross_run(n, 'gpu');
	END LOOP;
END $$;

\echo '| rows | CPU p50 ms | GPU p50 ms | GPU / CPU |'
\echo '|--:|--:|--:|--:|'
SELECT format('| %s | %s | %s | %s |', c.rows, round(c.p50::numeric, 2), round(g.p50::numeric, 2),
	round((g.p50 / c.p50)::numeric, 3))
FROM cross_results c JOIN cross_results g ON g.rows = c.rows AND g.device = 'gpu'
WHERE c.device = 'cpu' ORDER BY c.rows \g (tuples_only=on format=unaligned)
