/* hybridsearch 0.3.0 -> 0.4.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.4.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs the earlier scripts, then this one: every
-- object added since 0.3.0 is defined here once.

-- The distance a hybrid index scan computed for the row it just returned,
-- which the planner puts before the ORDER BY distance in the scan's output
-- (src/index/scan_distance_plan.c): one function per query type of the
-- hybrid operator classes, all one C function.
CREATE FUNCTION hybridsearch_scan_distance(query vector, index regclass, row_tid tid)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION hybridsearch_scan_distance(query halfvec, index regclass, row_tid tid)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION hybridsearch_scan_distance(query sparsevec, index regclass, row_tid tid)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
CREATE FUNCTION hybridsearch_scan_distance(query bit, index regclass, row_tid tid)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION hybridsearch_scan_distance(vector, regclass, tid) IS 'the ORDER BY distance the last hybrid index scan returned, if it scanned index for query and returned the row at row_tid; else NULL';
COMMENT ON FUNCTION hybridsearch_scan_distance(halfvec, regclass, tid) IS 'the ORDER BY distance the last hybrid index scan returned, if it scanned index for query and returned the row at row_tid; else NULL';
COMMENT ON FUNCTION hybridsearch_scan_distance(sparsevec, regclass, tid) IS 'the ORDER BY distance the last hybrid index scan returned, if it scanned index for query and returned the row at row_tid; else NULL';
COMMENT ON FUNCTION hybridsearch_scan_distance(bit, regclass, tid) IS 'the ORDER BY distance the last hybrid index scan returned, if it scanned index for query and returned the row at row_tid; else NULL';

-- A partitioned hybrid index holds no rows (its partitions' indexes do):
-- the view lists only indexes with storage, where it used to fail on one.
CREATE OR REPLACE VIEW hybridsearch_stats AS
	SELECT v.index, v."table", s.*
	FROM (SELECT c.oid::regclass AS index, i.indrelid::regclass AS "table"
		  FROM pg_class c
		  JOIN pg_am a ON a.oid = c.relam AND a.amname = 'hybrid'
		  JOIN pg_index i ON i.indexrelid = c.oid
		  WHERE i.indisvalid AND c.relkind = 'i'
			AND has_table_privilege(i.indrelid, 'SELECT')
			AND (c.relpersistence <> 't' OR c.relnamespace = pg_my_temp_schema())
		  OFFSET 0) v
	CROSS JOIN LATERAL hybridsearch_index_stats(v.index) s;
