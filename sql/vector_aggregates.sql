--
-- vector_aggregates: avg(vector) and sum(vector), serial and parallel,
-- and the support functions vector_accum, vector_combine, vector_avg.
--

CREATE TABLE vector_aggregates_t (g int, v vector);
INSERT INTO vector_aggregates_t VALUES
    (1, '[1,2,3]'), (1, '[3,5,7]'), (1, NULL),
    (2, '[1,1]'), (2, '[2,2]'), (2, '[2,-7]'),
    (3, NULL),
    (4, '[-0]');

SELECT avg(v), sum(v) FROM vector_aggregates_t WHERE g = 1;
SELECT g, avg(v), sum(v), count(v), count(*)
FROM vector_aggregates_t GROUP BY g ORDER BY g;
-- negative zero is kept, as in pgvector (the sums start at -0)
SELECT avg(v), sum(v) FROM (VALUES ('[-0,-0,0]'::vector)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[-0,-0,0]'::vector), ('[-0,0,-0]')) t(v);
-- 5/3 in double, then rounded once to float4
SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[2]'), ('[2]')) t(v);
SELECT pg_typeof(avg(v)), pg_typeof(sum(v)) FROM vector_aggregates_t WHERE g = 1;

-- only NULLs, or no rows at all: NULL
SELECT avg(v), sum(v) FROM vector_aggregates_t WHERE g = 3;
SELECT avg(v), sum(v) FROM vector_aggregates_t WHERE false;
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null
FROM vector_aggregates_t WHERE g > 100;

-- mixed dimensions (avg reports the first length it saw)
SELECT avg(v) FROM vector_aggregates_t WHERE g IN (1, 2);
SELECT sum(v) FROM vector_aggregates_t WHERE g IN (1, 2);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2]'), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2]'), ('[1,2,3]')) t(v);
DROP TABLE vector_aggregates_t;

-- sum overflows float4; avg accumulates in double precision and does not
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,-3e38]'::vector), ('[1,-3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3.4028235e38]'::vector), ('[3.4028235e38]'),
                           ('[3.4028235e38]')) t(v);
-- avg of tiny values
SELECT avg(v) FROM (VALUES ('[1e-45,1e-40]'::vector), ('[1e-45,1e-40]')) t(v);

-- sum is computed in float4 (as vector_add), avg in double
SELECT sum(v), avg(v) FROM (VALUES ('[16777216]'::vector), ('[1]'), ('[1]')) t(v);

-- as window functions
SELECT i, sum(v) OVER (ORDER BY i), avg(v) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
FROM (VALUES (1, '[1,10]'::vector), (2, '[2,20]'), (3, NULL), (4, '[4,40]')) t(i, v)
ORDER BY i;

-- ORDER BY, DISTINCT and FILTER inside the aggregate
SELECT avg(DISTINCT v), sum(DISTINCT v), avg(v) FILTER (WHERE v > '[1]')
FROM (VALUES ('[1]'::vector), ('[1]'), ('[4]')) t(v);

--
-- the support functions, called directly; the state is {count, sums...}
--
SELECT vector_accum('{0}', '[1,2]'), vector_accum('{0}', '[-0,0]');
SELECT vector_accum('{1,1,2}', '[3,4]');
SELECT vector_accum('{1,1,2}', '[3,4,5]');
SELECT vector_combine('{1,1,2}', '{2,4,6}');
SELECT vector_combine('{0}', '{2,4,6}'), vector_combine('{2,4,6}', '{0}'),
       vector_combine('{0}', '{0}'), vector_combine('{0}', '{1,-0,0}');
SELECT vector_combine('{1,1,2}', '{1,1,2,3}');
SELECT vector_combine('{1,1e308}', '{1,1e308}');
SELECT vector_combine('{1,-1e308}', '{1,-1e308}');
SELECT vector_avg('{2,4,6}'), vector_avg('{3,1,-1}'), vector_avg('{0}') IS NULL;
SELECT vector_avg('{1,1e300}');
-- malformed states (pgvector's internal messages)
SELECT vector_avg('{}');
SELECT vector_accum('{{0}}', '[1]');
SELECT vector_combine('{1,1}', '{1,NULL}');
SELECT vector_avg('{1}');
SELECT vector_avg(array_fill(1::float8, ARRAY[16002]));
-- a direct call does not modify its argument: states read from a table
-- (large enough to be passed by pointer into the buffer) stay as they are
CREATE TABLE vector_aggregates_s (s float8[], v vector);
INSERT INTO vector_aggregates_s
SELECT array_prepend(1::float8, array_fill(2::float8, ARRAY[20])),
       array_fill(3, ARRAY[20])::vector;
INSERT INTO vector_aggregates_s VALUES ('{0}', '[5]');
SELECT s, vector_accum(s, v) AS accum, s AS s_after
FROM vector_aggregates_s ORDER BY cardinality(s);
SELECT s, vector_combine(s, s) AS combined, s AS s_after
FROM vector_aggregates_s ORDER BY cardinality(s);
SELECT s FROM vector_aggregates_s ORDER BY cardinality(s);
DROP TABLE vector_aggregates_s;

-- aggregate definitions: parallel safe, with a combine function
SELECT aggfnoid::regprocedure, aggtransfn, aggcombinefn, aggfinalfn,
       aggtranstype::regtype, agginitval, p.proparallel
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE aggfnoid IN ('avg(vector)'::regprocedure, 'sum(vector)'::regprocedure)
ORDER BY 1::text;

--
-- parallel aggregation: Partial Aggregate in the workers, combined by the
-- leader; the result equals the serial one (the inputs are small integers,
-- so every order of summation is exact)
--
CREATE TABLE vector_aggregates_p (id int, g int, v vector(3));
INSERT INTO vector_aggregates_p
SELECT i, i % 3, ARRAY[i % 10, (i % 7) - 3, 1]::int[]
FROM generate_series(1, 5000) i;
INSERT INTO vector_aggregates_p VALUES (0, 0, NULL);
ANALYZE vector_aggregates_p;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE vector_aggregates_serial AS
SELECT avg(v) AS avg, sum(v) AS sum, count(v) AS n FROM vector_aggregates_p;
SELECT * FROM vector_aggregates_serial;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT avg(v), sum(v), count(v) FROM vector_aggregates_p;
SELECT avg(v), sum(v), count(v) FROM vector_aggregates_p;
SELECT p.avg = s.avg AS avg_equal, p.sum = s.sum AS sum_equal, p.n = s.n AS n_equal
FROM (SELECT avg(v) AS avg, sum(v) AS sum, count(v) AS n FROM vector_aggregates_p) p,
     vector_aggregates_serial s;
-- grouped, in parallel, against the serial result
EXPLAIN (COSTS OFF)
SELECT g, avg(v), sum(v) FROM vector_aggregates_p GROUP BY g ORDER BY g;
SELECT g, avg(v), sum(v) FROM vector_aggregates_p GROUP BY g ORDER BY g;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT g, avg(v), sum(v) FROM vector_aggregates_p GROUP BY g ORDER BY g;
SELECT g, avg(v), sum(v) FROM vector_aggregates_p GROUP BY g ORDER BY g;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE vector_aggregates_p;
DROP TABLE vector_aggregates_serial;
