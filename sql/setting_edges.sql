-- The hybridsearch.* settings a session can set, at their edge values:
-- each has the meaning doc/sql-reference.md gives it, values beyond are
-- refused, and every index scan returns what a sequential scan returns.
\set VERBOSITY terse
CREATE TABLE edges (id int PRIMARY KEY, v vector(4));
INSERT INTO edges SELECT i, ARRAY[sin(i), cos(i), sin(2 * i), cos(3 * i)]::vector
FROM generate_series(1, 300) i;
CREATE INDEX edges_l2 ON edges USING hybrid (v vector_l2_ops);
CREATE FUNCTION edges_by_index(q vector) RETURNS int[] LANGUAGE sql
    SET enable_seqscan = off SET enable_bitmapscan = off
    AS $$ SELECT array_agg(id) FROM (SELECT id FROM edges ORDER BY v <-> q LIMIT 10) s $$;
CREATE FUNCTION edges_by_seqscan(q vector) RETURNS int[] LANGUAGE sql
    SET enable_indexscan = off SET enable_bitmapscan = off
    AS $$ SELECT array_agg(id) FROM (SELECT id FROM edges ORDER BY v <-> q LIMIT 10) s $$;
-- exact, and counted as an index scan
CREATE FUNCTION edges_exact() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    before bigint;
    after bigint;
    ok boolean;
BEGIN
    SELECT cpu_scans + streamed_scans + gpu_scans INTO before FROM hybridsearch_index_stats('edges_l2');
    ok := edges_by_index('[1,0,0,0]') = edges_by_seqscan('[1,0,0,0]');
    SELECT cpu_scans + streamed_scans + gpu_scans INTO after FROM hybridsearch_index_stats('edges_l2');
    RETURN ok AND after = before + 1;
END $$;

-- cpu_threads: 0 = every online CPU, 64 at most
SET hybridsearch.cpu_threads = 0;
SELECT edges_exact();
SET hybridsearch.cpu_threads = 64;
SELECT edges_exact();
SET hybridsearch.cpu_threads = 65;
SET hybridsearch.cpu_threads = -1;
RESET hybridsearch.cpu_threads;

-- gpu_min_rows: 0 = every index may go to the GPU, the maximum = in effect none
SET hybridsearch.gpu_min_rows = 0;
SELECT edges_exact();
SET hybridsearch.gpu_min_rows = 2147483647;
SELECT edges_exact();
SET hybridsearch.gpu_min_rows = -1;
RESET hybridsearch.gpu_min_rows;

-- cpu_cache_size: 0 = no private copy, every scan reads the pages (where
-- the copies are private: without the preload or with shared_cache_size = 0)
SET hybridsearch.cpu_cache_size = 0;
SELECT streamed_scans AS streamed_before FROM hybridsearch_index_stats('edges_l2') \gset
SELECT edges_exact();
SELECT streamed_scans = :streamed_before + 1
       OR (current_setting('shared_preload_libraries') ~ 'hybridsearch'
           AND current_setting('hybridsearch.shared_cache_size') <> '0') AS streamed
FROM hybridsearch_index_stats('edges_l2');
SET hybridsearch.cpu_cache_size = 1073741823;
SELECT edges_exact();
SET hybridsearch.cpu_cache_size = 1073741824;
SET hybridsearch.cpu_cache_size = -1;
RESET hybridsearch.cpu_cache_size;

-- cpu_cache off: every scan reads the pages
SET hybridsearch.cpu_cache = off;
SELECT streamed_scans AS streamed_before FROM hybridsearch_index_stats('edges_l2') \gset
SELECT edges_exact();
SELECT streamed_scans = :streamed_before + 1 AS streamed FROM hybridsearch_index_stats('edges_l2');
RESET hybridsearch.cpu_cache;

-- gpu_timeout: 10 ms at least; the maximum (about 24.8 days) in effect waits.
-- (Under the GPU runner a scan may wait more than 10 ms and warn that it
-- finished on the CPU: the warnings are not shown.)
SET client_min_messages = error;
SET hybridsearch.gpu_timeout = 10;
SELECT edges_exact();
SET hybridsearch.gpu_timeout = 2147483647;
SELECT edges_exact();
SET hybridsearch.gpu_timeout = 9;
SET hybridsearch.gpu_timeout = 0;
RESET hybridsearch.gpu_timeout;
RESET client_min_messages;

DROP TABLE edges;
DROP FUNCTION edges_by_index, edges_by_seqscan, edges_exact;
