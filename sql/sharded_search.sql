--
-- sharded_search: hybridsearch_sharded_search(parent, column, operator,
-- query, k, filter) over local partitions.  Its answers must equal the same
-- ORDER BY ... LIMIT on one unsharded table; the postgres_fdw case, with
-- pushdown and asynchronous shards, is test/t/090_sharding.pl.
--
\set SHOW_CONTEXT never
SET extra_float_digits = 3;

-- one unsharded table, and the same rows in a partitioned one: hash
-- partitions, one of them list-partitioned again, one with its columns in
-- another order, and a parent with a dropped column
SELECT setseed(0.5);
CREATE TABLE flat (id int, f int, v vector(8));
INSERT INTO flat SELECT n, n % 10,
	ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 8) WHERE n > 0)::float8[]::vector
FROM generate_series(1, 1000) n;
UPDATE flat SET v = NULL WHERE id % 97 = 0;
UPDATE flat SET v = '[0,0,0,0,0,0,0,0]' WHERE id = 89;
CREATE TABLE sharded (dropped int, id int, f int, v vector(8)) PARTITION BY HASH (id);
ALTER TABLE sharded DROP COLUMN dropped;
CREATE TABLE sharded_0 PARTITION OF sharded FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE sharded_1 (v vector(8), f int, id int);
ALTER TABLE sharded ATTACH PARTITION sharded_1 FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE sharded_2 PARTITION OF sharded FOR VALUES WITH (MODULUS 3, REMAINDER 2)
	PARTITION BY LIST (f);
CREATE TABLE sharded_2_low PARTITION OF sharded_2 FOR VALUES IN (0, 1, 2, 3, 4);
CREATE TABLE sharded_2_high PARTITION OF sharded_2 DEFAULT;
CREATE INDEX ON sharded_0 USING hybrid (v vector_cosine_ops);
CREATE INDEX ON sharded_2_low USING hybrid (v vector_l1_ops);
INSERT INTO sharded SELECT * FROM flat;
SELECT tableoid::regclass AS partition, count(*) FROM sharded GROUP BY 1 ORDER BY 1;

-- every operator, with and without a filter, k below and above the rows a
-- partition holds: the ids equal the unsharded table's, in order (the
-- random distances are distinct, and the k nearest never reach the NULL
-- vectors, which could come in any order)
CREATE TABLE queries (name text, q vector(8));
INSERT INTO queries VALUES ('row', (SELECT v FROM flat WHERE id = 1)),
	('far', '[9,-9,9,-9,9,-9,9,-9]');
SELECT q.name, o.op, w.filter, k,
	(SELECT array_agg(id ORDER BY n) FROM hybridsearch_sharded_search(NULL::sharded, 'v', o.op, q.q, k, w.filter)
		WITH ORDINALITY AS s(id, f, v, n)) =
	(SELECT array_agg(id) FROM (SELECT id FROM flat
		WHERE w.filter IS NULL OR f < 3
		ORDER BY CASE o.op WHEN '<->' THEN v <-> q.q WHEN '<#>' THEN v <#> q.q
			WHEN '<=>' THEN v <=> q.q ELSE v <+> q.q END LIMIT k) x) AS equal
FROM queries q,
	(VALUES ('<->'), ('<#>'), ('<=>'), ('<+>')) o(op),
	(VALUES (NULL), ('f < 3')) w(filter),
	(VALUES (1), (10), (250)) l(k)
ORDER BY 1, 2, 3, 4;

-- $1 in the filter is the query vector: a distance bound, shipped with the rest
SELECT array_agg(id) FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,0,0,0,0,0,0,0]', 50,
	'v <-> $1 < 1.1 AND f <> 3');
SELECT array_agg(id) FROM (SELECT id FROM flat WHERE v <-> '[1,0,0,0,0,0,0,0]' < 1.1 AND f <> 3
	ORDER BY v <-> '[1,0,0,0,0,0,0,0]' LIMIT 50) s;

-- the rows come whole, in the parent's column order, nearest first
-- (distances to 6 places: the last digits follow the CPU's vector width)
SELECT id, f, round((v <-> '[1,0,0,0,0,0,0,0]')::numeric, 6) AS distance
FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,0,0,0,0,0,0,0]', 3);
SELECT id, f, round((v <-> '[1,0,0,0,0,0,0,0]')::numeric, 6) AS distance
FROM flat ORDER BY v <-> '[1,0,0,0,0,0,0,0]' LIMIT 3;

-- NaN (zero vectors under <=>) sorts after every number and NULL after
-- NaN, as in one table: the last rows of all 1000
SELECT string_agg(CASE WHEN v IS NULL THEN 'NULL' WHEN id = 89 THEN 'zero' ELSE 'number' END, ' '
	ORDER BY n) AS last_12
FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<=>', '[1,0,0,0,0,0,0,0]', 1000)
	WITH ORDINALITY AS s(id, f, v, n)
WHERE n > 988;

-- a plain table, a single partition, a partitioned table without
-- partitions, and a column name that needs quoting
SELECT array_agg(id) FROM hybridsearch_sharded_search(NULL::flat, 'v', '<+>', '[1,0,0,0,0,0,0,0]', 4);
SELECT array_agg(id) FROM (SELECT id FROM flat ORDER BY v <+> '[1,0,0,0,0,0,0,0]' LIMIT 4) s;
SELECT array_agg(id) FROM hybridsearch_sharded_search(NULL::sharded_1, 'v', '<+>', '[1,0,0,0,0,0,0,0]', 4);
SELECT array_agg(id) FROM (SELECT id FROM sharded_1 ORDER BY v <+> '[1,0,0,0,0,0,0,0]' LIMIT 4) s;
CREATE TABLE empty_parent (id int, "Emb Vec" vector(2)) PARTITION BY LIST (id);
SELECT * FROM hybridsearch_sharded_search(NULL::empty_parent, 'Emb Vec', '<->', '[1,2]', 5);
CREATE TABLE "Quoted Leaf" PARTITION OF empty_parent FOR VALUES IN (1, 2);
INSERT INTO empty_parent VALUES (1, '[1,1]'), (2, '[5,5]');
SELECT * FROM hybridsearch_sharded_search(NULL::empty_parent, 'Emb Vec', '<->', '[4,4]', 5);

-- a NULL query gives every row a NULL distance: k rows, any k, as in one table
SELECT count(*) FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', NULL, 7);

-- errors
SELECT * FROM hybridsearch_sharded_search(1, 'v', '<->', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::queries, 'v', '<->', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'f', '<->', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, NULL, '<->', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '+', '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', NULL, '[1,2]', 5);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,2]', 0);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,2]', NULL);
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,2]', 5);
CREATE VIEW sharded_view AS SELECT * FROM sharded;
SELECT * FROM hybridsearch_sharded_search(NULL::sharded_view, 'v', '<->', '[1,2]', 5);
ALTER TABLE sharded ENABLE ROW LEVEL SECURITY;
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,0,0,0,0,0,0,0]', 5);
ALTER TABLE sharded DISABLE ROW LEVEL SECURITY;

-- the leaves are read with the caller's privileges
CREATE ROLE regress_sharded_reader;
GRANT SELECT ON sharded TO regress_sharded_reader;
SET ROLE regress_sharded_reader;
SELECT count(*) FROM sharded;
SELECT * FROM hybridsearch_sharded_search(NULL::sharded, 'v', '<->', '[1,0,0,0,0,0,0,0]', 5);
RESET ROLE;
REVOKE ALL ON sharded FROM regress_sharded_reader;
DROP ROLE regress_sharded_reader;

-- relocated: the operator is found in the extension's schema, whatever the
-- search_path
CREATE SCHEMA other;
SET search_path = other;
SELECT array_agg(id) FROM public.hybridsearch_sharded_search(NULL::public.sharded, 'v', '<#>',
	'[1,0,0,0,0,0,0,0]'::public.vector, 4);
RESET search_path;
SELECT array_agg(id) FROM (SELECT id FROM flat ORDER BY v <#> '[1,0,0,0,0,0,0,0]' LIMIT 4) s;

-- the function: stable, not strict (the parent argument is a NULL row), a
-- set of 10 rows to the planner
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel,
       p.proretset, p.prorows, pg_get_function_arguments(p.oid) AS arguments
FROM pg_proc p WHERE p.proname = 'hybridsearch_sharded_search';

DROP SCHEMA other;
DROP VIEW sharded_view;
DROP TABLE flat, sharded, empty_parent, queries;
