-- The dense copy of an index, as a session sees it (pg_regress starts no
-- preload, so copies are private to each backend; the GPU runner preloads,
-- and then they are shared; test/t/015_shared_copy.pl covers sharing):
-- hybridsearch_prewarm(),
-- the copy's columns in hybridsearch_stats, streaming with cpu_cache off,
-- and index scans counted in pg_stat_user_indexes.  The CPU path, so that
-- the GPU runner's settings give the same output; copy_scope says which
-- kind of copy the server keeps.
SET hybridsearch.device = cpu;
SELECT setseed(0.5);
CREATE TABLE copy_items (id int, v vector(8));
INSERT INTO copy_items
SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 8) WHERE i > 0)::vector
FROM generate_series(1, 500) i;
INSERT INTO copy_items VALUES (501, NULL);
CREATE INDEX copy_items_l2 ON copy_items USING hybrid (v vector_l2_ops);
SELECT copy_state, copy_scope = CASE WHEN current_setting('shared_preload_libraries') ~ 'hybridsearch'
		THEN 'shared' ELSE 'backend' END AS scope_as_configured,
	cpu_cached_rows, copy_loads, cpu_scans, streamed_scans
FROM hybridsearch_stats WHERE index = 'copy_items_l2'::regclass;
-- prewarm loads the copy: its rows, and one load
SELECT hybridsearch_prewarm('copy_items_l2');
SELECT copy_state, cpu_cached_rows, cpu_cached_bytes > 0 AS has_bytes,
	copy_loads, last_load_ms >= 0 AS load_timed, cpu_scans
FROM hybridsearch_stats WHERE index = 'copy_items_l2'::regclass;
-- a scan reads it without loading it again
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM copy_items ORDER BY v <-> (SELECT v FROM copy_items WHERE id = 1) LIMIT 5) s;
SELECT copy_loads, cpu_scans, streamed_scans FROM hybridsearch_stats WHERE index = 'copy_items_l2'::regclass;
-- cpu_cache off: no copy, the scan streams the pages, with the same answer
CREATE TEMP TABLE with_copy AS
	SELECT id FROM copy_items ORDER BY v <-> (SELECT v FROM copy_items WHERE id = 2) LIMIT 10;
SET hybridsearch.cpu_cache = off;
SELECT count(*) FROM (SELECT id FROM copy_items ORDER BY v <-> (SELECT v FROM copy_items WHERE id = 2) LIMIT 10) s
WHERE id NOT IN (SELECT id FROM with_copy);
SELECT streamed_scans FROM hybridsearch_stats WHERE index = 'copy_items_l2'::regclass;
SELECT hybridsearch_prewarm('copy_items_l2');
RESET hybridsearch.cpu_cache;
RESET enable_seqscan;
RESET hybridsearch.device;
-- hybrid index scans count in pg_stat_user_indexes
SELECT pg_stat_force_next_flush();
SELECT idx_scan >= 3 AS counted FROM pg_stat_user_indexes WHERE indexrelname = 'copy_items_l2';
-- errors, each with its SQLSTATE
SELECT hybridsearch_prewarm('copy_items');
\echo :LAST_ERROR_SQLSTATE
SELECT hybridsearch_prewarm(0);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX copy_items_id ON copy_items (id);
SELECT hybridsearch_prewarm('copy_items_id');
\echo :LAST_ERROR_SQLSTATE
CREATE ROLE regress_copy_reader;
SET ROLE regress_copy_reader;
SELECT hybridsearch_prewarm('copy_items_l2');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_copy_reader;
DROP TABLE copy_items;
