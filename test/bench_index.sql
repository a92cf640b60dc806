-- Benchmark body, run by test/bench-index.sh (and the GPU runner) with psql
-- variables rows, dims, queries (timed queries per configuration) and
-- optionally datafile, a binary COPY file from test/gen_vectors.py.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS bench_items, bench_queries, bench_results;
SELECT setseed(0.42);

\echo loading :rows rows of :dims dimensions
SELECT clock_timestamp() AS load_start \gset
CREATE TABLE bench_items (id int PRIMARY KEY, embedding vector(:dims));
ALTER TABLE bench_items ALTER embedding SET STORAGE PLAIN;
\if :{?datafile}
COPY bench_items FROM :'datafile' WITH (FORMAT binary);
\else
INSERT INTO bench_items
SELECT i, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, :dims) WHERE i > 0)::vector
FROM generate_series(1, :rows) i;
\endif
VACUUM ANALYZE bench_items;
SELECT round(extract(epoch FROM clock_timestamp() - :'load_start') * 1000) AS load_ms \gset

CREATE TABLE bench_queries AS
SELECT q, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, :dims) WHERE q > 0)::vector AS embedding
FROM generate_series(1, :queries) q;
CREATE TABLE bench_results (configuration text, ms float8[], mismatches int);

-- Runs every query once untimed (warm-up) and once timed; records the
-- server-side time of each and whether its ids equal the reference.
CREATE FUNCTION bench_run(configuration text, reference bool) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	query record;
	started timestamptz;
	times float8[] := '{}';
	ids int[];
	wrong int := 0;
BEGIN
	FOR query IN SELECT * FROM bench_queries ORDER BY q LOOP
		PERFORM id FROM bench_items ORDER BY embedding <=> query.embedding LIMIT 10;
		started := clock_timestamp();
		SELECT array_agg(id) INTO ids FROM
			(SELECT id FROM bench_items ORDER BY embedding <=> query.embedding LIMIT 10) s;
		times := times || extract(epoch FROM clock_timestamp() - started) * 1000;
		IF reference THEN
			INSERT INTO bench_truth VALUES (query.q, ids);
		ELSIF ids IS DISTINCT FROM (SELECT t.ids FROM bench_truth t WHERE t.q = query.q) THEN
			wrong := wrong + 1;
		END IF;
	END LOOP;
	INSERT INTO bench_results VALUES (configuration, times, wrong);
END $$;
CREATE TABLE bench_truth (q int, ids int[]);

-- Waits until the GPU worker has reopened its devices with per_device parts
-- of each index copy on every GPU (after ALTER SYSTEM and a reload).
CREATE FUNCTION bench_wait_parts(per_device int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR attempt IN 1 .. 300 LOOP
		IF (SELECT ready AND parts_per_index = cardinality(devices) * per_device
			FROM hybridsearch_gpu_status()) THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RAISE EXCEPTION 'the GPU worker did not reopen with % parts per GPU', per_device;
END $$;

-- sequential scans: the baseline
SELECT ready AS gpu_ready, :rows <= 200000 AS small FROM hybridsearch_gpu_status() \gset
SET enable_indexscan = off;
SELECT bench_run(format('seq scan, %s parallel workers',
	current_setting('max_parallel_workers_per_gather')), true) \gset
\if :small
SET max_parallel_workers_per_gather = 0;
SELECT bench_run('seq scan, no parallel workers', false) \gset
RESET max_parallel_workers_per_gather;
\endif
RESET enable_indexscan;
SET hybridsearch.device = cpu;

SELECT clock_timestamp() AS build_start \gset
CREATE INDEX bench_full ON bench_items USING hybrid (embedding vector_cosine_ops);
SELECT round(extract(epoch FROM clock_timestamp() - :'build_start') * 1000) AS build_full_ms \gset

SELECT clock_timestamp() AS cold_start \gset
SELECT id FROM bench_items ORDER BY embedding <=> (SELECT embedding FROM bench_queries WHERE q = 1) LIMIT 10 \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'cold_start') * 1000) AS first_scan_ms \gset

SELECT bench_run('hybrid full, cached, all threads', false) \gset
SET hybridsearch.cpu_threads = 1;
SELECT bench_run('hybrid full, cached, 1 thread', false) \gset
RESET hybridsearch.cpu_threads;
\if :small
SET hybridsearch.cpu_cache = off;
SELECT bench_run('hybrid full, pages every scan, all threads', false) \gset
RESET hybridsearch.cpu_cache;
\endif
\if :gpu_ready
SET hybridsearch.device = gpu;
SELECT clock_timestamp() AS cold_start \gset
SELECT id FROM bench_items ORDER BY embedding <=> (SELECT embedding FROM bench_queries WHERE q = 1) LIMIT 10 \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'cold_start') * 1000) AS first_gpu_scan_ms \gset
SELECT bench_run('hybrid full, GPU', false) \gset
\ir bench_gpu_split.sql
SELECT bench_run('hybrid full, GPU, each copy in 2 parts per GPU', false) \gset
\ir bench_gpu_unsplit.sql
SET hybridsearch.device = cpu;
\else
\set first_gpu_scan_ms 'no GPU'
\endif
DROP INDEX bench_full;

SELECT clock_timestamp() AS build_start \gset
CREATE INDEX bench_half ON bench_items USING hybrid (embedding vector_cosine_ops) WITH (precision = half);
SELECT round(extract(epoch FROM clock_timestamp() - :'build_start') * 1000) AS build_half_ms \gset
SELECT bench_run('hybrid half, cached, all threads', false) \gset
SET hybridsearch.cpu_threads = 1;
SELECT bench_run('hybrid half, cached, 1 thread', false) \gset
RESET hybridsearch.cpu_threads;
\if :gpu_ready
SET hybridsearch.device = gpu;
SELECT bench_run('hybrid half, GPU', false) \gset
\ir bench_gpu_split.sql
SELECT bench_run('hybrid half, GPU, each copy in 2 parts per GPU', false) \gset
\ir bench_gpu_unsplit.sql
SET hybridsearch.device = cpu;
\endif

\echo
\echo '| configuration | p50 ms | p95 ms | p50 / seq scan p50 | exact (mismatching queries) |'
\echo '|---|--:|--:|--:|--:|'
WITH stats AS (
	SELECT configuration,
		(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(ms) t) AS p50,
		(SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY t) FROM unnest(ms) t) AS p95,
		mismatches, ctid
	FROM bench_results
)
SELECT format('| %s | %s | %s | %s | %s |', configuration, round(p50::numeric, 2), round(p95::numeric, 2),
	round((p50 / (SELECT p50 FROM stats ORDER BY ctid LIMIT 1))::numeric, 3),
	CASE WHEN ctid = (SELECT min(ctid) FROM stats) THEN 'reference' ELSE mismatches::text END)
FROM stats ORDER BY ctid \g (tuples_only=on format=unaligned)
\echo
\echo '| step | ms |'
\echo '|---|--:|'
\echo '| load |' :load_ms '|'
\echo '| CREATE INDEX (full) |' :build_full_ms '|'
\echo '| first scan after CREATE INDEX (loads the cache) |' :first_scan_ms '|'
\echo '| CREATE INDEX (half) |' :build_half_ms '|'
\echo '| first GPU scan (uploads the index to the GPU) |' :first_gpu_scan_ms '|'
SELECT index, gpu_resident_rows, pg_size_pretty(gpu_resident_bytes) AS gpu_bytes, gpu_scans,
	gpu_fallbacks, round(mean_gpu_batch::numeric, 2) AS mean_batch,
	round(mean_gpu_kernel_ms::numeric, 3) AS mean_kernel_ms
FROM hybridsearch_stats;
