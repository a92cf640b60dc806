/* hybridsearch 0.2.0 -> 0.3.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.3.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql, then
-- hybridsearch--0.1.0--0.2.0.sql, then this script: every object added
-- since 0.2.0 is defined here once.

-- Batched search (issue 15): many queries in one statement, their first
-- candidates picked by one sgemm pass on the CPU; and how often concurrent
-- scans shared a pass.
CREATE FUNCTION hybridsearch_search_batch(index regclass, queries vector[], k integer,
	OUT query integer, OUT tid tid, OUT distance double precision)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION hybridsearch_search_batch(regclass, vector[], integer) IS 'the k nearest rows of the index''s table for each query, as (query number, heap TID, distance), exactly as each query''s ORDER BY ... LIMIT k';

CREATE FUNCTION hybridsearch_batch_stats(
	OUT batched_passes bigint, OUT batched_queries bigint,
	OUT lone_passes bigint, OUT largest_batch integer, OUT slots_in_use integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION hybridsearch_batch_stats() IS 'since start-up: CPU passes concurrent scans shared, the scans they served, passes that ran alone, the largest batch; and the batch slots searches hold now';
