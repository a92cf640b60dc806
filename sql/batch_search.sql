-- hybridsearch_search_batch(index, queries, k): each query's k nearest rows,
-- exactly those its own ORDER BY ... LIMIT k returns through the index,
-- under the statement's snapshot.  Compared here with the LATERAL form for
-- every metric (L1 has no batched pass and runs query by query), with
-- NULL vectors, duplicates, dead rows, a filter through the join, k past
-- the row count, and the errors.  The same output with the preload and on
-- the GPU runner.
SELECT setseed(0.25);
CREATE TABLE batch_items (id int PRIMARY KEY, grp int, v vector(12));
INSERT INTO batch_items
SELECT i, i % 7, (SELECT array_agg(round((random() * 2 - 1)::numeric, 2))::real[]
	FROM generate_series(1, 12) WHERE i > 0)::vector
FROM generate_series(1, 3000) i;
-- duplicates of the first 40 rows, NULL vectors, and rows deleted after the index is built
INSERT INTO batch_items SELECT id + 10000, grp, v FROM batch_items WHERE id <= 40;
INSERT INTO batch_items VALUES (20001, 1, NULL), (20002, 2, NULL);
CREATE INDEX batch_l2 ON batch_items USING hybrid (v vector_l2_ops);
CREATE INDEX batch_ip ON batch_items USING hybrid (v vector_ip_ops);
CREATE INDEX batch_cos ON batch_items USING hybrid (v vector_cosine_ops);
CREATE INDEX batch_l1 ON batch_items USING hybrid (v vector_l1_ops);
DELETE FROM batch_items WHERE id % 11 = 0;
CREATE TABLE batch_queries AS
SELECT row_number() OVER (ORDER BY id)::int AS n, v FROM batch_items WHERE id % 97 = 5 AND v IS NOT NULL;
INSERT INTO batch_queries VALUES ((SELECT count(*) + 1 FROM batch_queries), '[0,0,0,0,0,0,0,0,0,0,0,0]');
SELECT count(*) FROM batch_queries;

-- the batch against LATERAL, for one index and operator: rows per query,
-- and rows that differ, by distance and by id (ids only below each query's
-- k-th distance: rows tied with it may be cut either way, as in any scan)
CREATE FUNCTION batch_diff(idx regclass, op text, k int) RETURNS TABLE (batch_rows bigint, lateral_rows bigint, differing bigint)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
		WITH b AS (
			SELECT r.query, i.id, r.distance
			FROM hybridsearch_search_batch(%L, (SELECT array_agg(v ORDER BY n) FROM batch_queries), %s) r
			JOIN batch_items i ON i.ctid = r.tid),
		l AS (
			SELECT q.n AS query, x.id, x.distance FROM batch_queries q,
			LATERAL (SELECT id, v %s q.v AS distance FROM batch_items ORDER BY v %s q.v LIMIT %s) x),
		kth AS (SELECT query, max(distance) AS d FROM l GROUP BY query),
		bi AS (SELECT query, id FROM b JOIN kth USING (query) WHERE distance < d),
		li AS (SELECT query, id FROM l JOIN kth USING (query) WHERE distance < d)
		SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM l),
			(SELECT count(*) FROM ((SELECT query, distance FROM b EXCEPT ALL SELECT query, distance FROM l)
				UNION ALL (SELECT query, distance FROM l EXCEPT ALL SELECT query, distance FROM b)) d)
			+ (SELECT count(*) FROM ((SELECT * FROM bi EXCEPT ALL SELECT * FROM li)
				UNION ALL (SELECT * FROM li EXCEPT ALL SELECT * FROM bi)) i)$q$,
		idx, k, op, op, k);
END $$;
SELECT m.idx, k.k, d.*
FROM (VALUES ('batch_l2', '<->'), ('batch_ip', '<#>'), ('batch_cos', '<=>'), ('batch_l1', '<+>')) m(idx, op),
	(VALUES (1), (10), (200)) k(k),
	LATERAL batch_diff(m.idx::regclass, m.op, k.k) d
ORDER BY m.idx, k.k;

-- k past the live rows: every row, then the NULL vectors with NULL distances
SELECT count(*) AS rows, count(distance) AS with_distance
FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,0,0,0,0,0,0,0,0,0,0,0]'::vector], 5000);

-- rows inserted and updated later, in the same transaction, are seen as a scan sees them
BEGIN;
INSERT INTO batch_items VALUES (30001, 0, '[9,9,9,9,9,9,9,9,9,9,9,9]');
UPDATE batch_items SET v = '[-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9]' WHERE id = 1;
SELECT r.query, i.id, r.distance
FROM hybridsearch_search_batch('batch_l2', ARRAY['[9,9,9,9,9,9,9,9,9,9,9,9]', '[-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9,-9]']::vector[], 1) r
JOIN batch_items i ON i.ctid = r.tid ORDER BY r.query;
ROLLBACK;

-- a filter, through the join: the batch then gives each query its k
-- nearest of all rows, not of the filtered ones; LATERAL with the filter
-- is the exact form for that
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT q.n, x.id FROM batch_queries q,
	LATERAL (SELECT id FROM batch_items WHERE grp = 3 ORDER BY v <-> q.v LIMIT 5) x;
RESET enable_seqscan;

-- errors
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,2,3,4,5,6,7,8,9,10,11,12]'::vector], 0);
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,2,3,4,5,6,7,8,9,10,11,12]'::vector, NULL], 3);
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY[['[1,2,3,4,5,6,7,8,9,10,11,12]'::vector]], 3);
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,2,3]'::vector], 3);
SELECT * FROM hybridsearch_search_batch('batch_items', ARRAY['[1,2,3]'::vector], 3);
SELECT * FROM hybridsearch_search_batch('batch_items_pkey', ARRAY['[1,2,3]'::vector], 3);
SELECT count(*) FROM hybridsearch_search_batch('batch_l2', '{}'::vector[], 3);
SELECT * FROM hybridsearch_search_batch('batch_l2', NULL, 3);
CREATE ROLE regress_batch_reader;
SET ROLE regress_batch_reader;
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,2,3,4,5,6,7,8,9,10,11,12]'::vector], 3);
RESET ROLE;
GRANT SELECT ON batch_items TO regress_batch_reader;
ALTER TABLE batch_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY batch_even ON batch_items FOR SELECT USING (id % 2 = 0);
SET ROLE regress_batch_reader;
SELECT * FROM hybridsearch_search_batch('batch_l2', ARRAY['[1,2,3,4,5,6,7,8,9,10,11,12]'::vector], 3);
RESET ROLE;
DROP POLICY batch_even ON batch_items;
ALTER TABLE batch_items DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON batch_items FROM regress_batch_reader;
DROP ROLE regress_batch_reader;

-- hybridsearch_batch_stats: counters with the preload, NULLs without
SELECT (batched_passes IS NULL) = (current_setting('shared_preload_libraries') !~ 'hybridsearch') AS as_configured
FROM hybridsearch_batch_stats();
DROP FUNCTION batch_diff(regclass, text, int);
DROP TABLE batch_items, batch_queries;
