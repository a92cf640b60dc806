/* hybridsearch 0.1.0 -> 0.2.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.2.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql and then this
-- script, so every object added since 0.1.0 is defined here once.

-- One shared copy per index (issue 13): hybridsearch_index_stats() shows the
-- copy's state and its loads and evictions, and how many scans streamed the
-- pages; hybridsearch_prewarm() loads a copy before queries need it.
DROP VIEW hybridsearch_stats;
DROP FUNCTION hybridsearch_index_stats(regclass);
CREATE FUNCTION hybridsearch_index_stats(index regclass,
	OUT rows bigint, OUT null_rows bigint, OUT dead_rows bigint,
	OUT dimensions integer, OUT search_precision text,
	OUT cpu_cached_rows bigint, OUT cpu_cached_bytes bigint,
	OUT cpu_scans bigint, OUT gpu_scans bigint, OUT gpu_fallbacks bigint,
	OUT mean_scan_ms double precision, OUT p95_scan_ms double precision,
	OUT gpu_resident_rows bigint, OUT gpu_resident_bytes bigint,
	OUT mean_gpu_batch double precision, OUT mean_gpu_kernel_ms double precision,
	OUT stats_scope text,
	OUT copy_state text, OUT copy_scope text, OUT copy_loads bigint,
	OUT copy_evictions bigint, OUT last_load_ms double precision,
	OUT streamed_scans bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hybridsearch_index_stats(regclass) IS 'size, dense copy, scan counts and scan times of one hybrid index';

-- One row per valid hybrid index whose table the user may read (other
-- sessions' temporary indexes cannot be read, so they are left out).
CREATE VIEW hybridsearch_stats AS
	SELECT v.index, v."table", s.*
	FROM (SELECT c.oid::regclass AS index, i.indrelid::regclass AS "table"
		  FROM pg_class c
		  JOIN pg_am a ON a.oid = c.relam AND a.amname = 'hybrid'
		  JOIN pg_index i ON i.indexrelid = c.oid
		  WHERE i.indisvalid
			AND has_table_privilege(i.indrelid, 'SELECT')
			AND (c.relpersistence <> 't' OR c.relnamespace = pg_my_temp_schema())
		  OFFSET 0) v
	CROSS JOIN LATERAL hybridsearch_index_stats(v.index) s;
GRANT SELECT ON hybridsearch_stats TO PUBLIC;
COMMENT ON VIEW hybridsearch_stats IS 'hybridsearch_index_stats() of every valid hybrid index whose table the current user may read';

CREATE FUNCTION hybridsearch_prewarm(index regclass) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION hybridsearch_prewarm(regclass) IS 'loads the dense copy of a hybrid index (and its GPU copy where scans would use the GPU); returns its rows';
