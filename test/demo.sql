-- The demo session: vectors in a table, a hybrid index, exact nearest
-- neighbours by each metric, the path each query took and the timings.
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
\echo '== loading 100000 random 128-dimensional vectors (first run only)'
CREATE TABLE IF NOT EXISTS demo_items (id int PRIMARY KEY, embedding vector(128));
\timing on
INSERT INTO demo_items
SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 128) WHERE i > 0)::vector
FROM generate_series(1, 100000) i
WHERE NOT EXISTS (SELECT FROM demo_items);
\echo '== building hybrid indexes (cosine and L2; first run only)'
CREATE INDEX IF NOT EXISTS demo_items_cosine ON demo_items USING hybrid (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS demo_items_l2 ON demo_items USING hybrid (embedding vector_l2_ops);
\timing off
SELECT count(*) AS rows, max(vector_dims(embedding)) AS dims FROM demo_items;

SELECT embedding AS query FROM demo_items WHERE id = 42 \gset

\echo '== the 5 nearest neighbours of item 42 by cosine distance, through the index'
\timing on
SELECT id, embedding <=> :'query' AS cosine_distance
FROM demo_items ORDER BY embedding <=> :'query' LIMIT 5;
\echo '== ... the same query again (the index keeps a dense copy in memory)'
SELECT id, embedding <=> :'query' AS cosine_distance
FROM demo_items ORDER BY embedding <=> :'query' LIMIT 5;
\echo '== ... by L2 distance'
SELECT id, embedding <-> :'query' AS l2_distance
FROM demo_items ORDER BY embedding <-> :'query' LIMIT 5;
\echo '== ... and by a sequential scan, for comparison: same rows, same distances'
SET enable_indexscan = off;
SELECT id, embedding <=> :'query' AS cosine_distance
FROM demo_items ORDER BY embedding <=> :'query' LIMIT 5;
RESET enable_indexscan;
\timing off

\echo '== the path taken (EXPLAIN ANALYZE)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM demo_items
ORDER BY embedding <=> (SELECT embedding FROM demo_items WHERE id = 42) LIMIT 5;
\echo '== hybridsearch_stats'
SELECT index, rows, search_precision, cpu_cached_rows,
	pg_size_pretty(cpu_cached_bytes) AS cached, cpu_scans, gpu_scans,
	round(mean_scan_ms::numeric, 2) AS mean_ms, round(p95_scan_ms::numeric, 2) AS p95_ms
FROM hybridsearch_stats ORDER BY index::text;
\echo '== the GPU worker (scans of indexes of 10000+ rows use the GPU when it is ready)'
SELECT worker_pid IS NOT NULL AS worker_running, ready, status FROM hybridsearch_gpu_status();
