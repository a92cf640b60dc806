-- A hybrid index scan's ORDER BY distance in its output comes from the
-- scan (hybridsearch_scan_distance) and is computed again only where the
-- scan's last row is not the row being projected: the values always equal
-- a sequential scan's.
SET extra_float_digits = 0;
CREATE TABLE sd (id int PRIMARY KEY, category int, embedding vector(3));
INSERT INTO sd SELECT i, i % 4,
	CASE WHEN i % 17 = 0 THEN NULL
		 WHEN i % 5 = 0 THEN '[1,1,1]'::vector
		 ELSE ARRAY[sin(i), cos(i * 0.3), sin(i * 1.7)]::vector END
	FROM generate_series(1, 300) i;
CREATE INDEX sd_l2 ON sd USING hybrid (embedding vector_l2_ops);
CREATE INDEX sd_cosine ON sd USING hybrid (embedding vector_cosine_ops);
ANALYZE sd;
SET enable_seqscan = off;

-- the hidden sort column and a selected distance both read the scan's value
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM sd ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, embedding <=> '[1,0,0]' AS d FROM sd ORDER BY d LIMIT 3;

-- the function itself: the scan's distance for the row it returned, and
-- NULL for another query, another index or another row
SELECT id, hybridsearch_scan_distance('[0,0,1]'::vector, 'sd_l2', ctid) = (embedding <-> '[0,0,1]') AS same,
	hybridsearch_scan_distance('[1,1,0]'::vector, 'sd_l2', ctid) IS NULL AS other_query,
	hybridsearch_scan_distance('[0,0,1]'::vector, 'sd_cosine', ctid) IS NULL AS other_index
	FROM sd ORDER BY embedding <-> '[0,0,1]' LIMIT 3;
SELECT hybridsearch_scan_distance('[0,0,1]'::vector, 'sd_l2', '(0,1)');

-- Exactly a sequential scan's answer: every row, NULLs last, with a filter,
-- after the rows change, and with the query from a subquery.
CREATE TEMP TABLE expected AS
	SELECT id, embedding <-> '[0.5,0.2,0.1]' AS d FROM sd;
CREATE TEMP TABLE got_rows AS
	SELECT id, embedding <-> '[0.5,0.2,0.1]' AS d FROM sd ORDER BY embedding <-> '[0.5,0.2,0.1]';
SELECT count(*) AS rows, count(*) FILTER (WHERE d IS NULL) AS nulls,
	(SELECT count(*) FROM ((SELECT * FROM expected EXCEPT ALL SELECT * FROM got_rows)
		UNION ALL (SELECT * FROM got_rows EXCEPT ALL SELECT * FROM expected)) x) AS differing
	FROM got_rows;
SELECT id, embedding <-> '[0.5,0.2,0.1]' AS d FROM sd
	WHERE category = 2 ORDER BY embedding <-> '[0.5,0.2,0.1]' LIMIT 4;
DELETE FROM sd WHERE id % 7 = 0;
UPDATE sd SET embedding = '[0.5,0.2,0.1]' WHERE id % 11 = 0;
VACUUM sd;
CREATE TABLE sd_queries (q int, embedding vector(3));
INSERT INTO sd_queries VALUES (1, '[0.5,0.2,0.1]');
TRUNCATE expected, got_rows;
INSERT INTO expected SELECT id, embedding <-> '[0.5,0.2,0.1]' FROM sd;
INSERT INTO got_rows SELECT id, embedding <-> (SELECT embedding FROM sd_queries WHERE q = 1) FROM sd
	ORDER BY embedding <-> (SELECT embedding FROM sd_queries WHERE q = 1);
SELECT count(*) AS rows, count(*) FILTER (WHERE d = 0) AS updated,
	(SELECT count(*) FROM ((SELECT * FROM expected EXCEPT ALL SELECT * FROM got_rows)
		UNION ALL (SELECT * FROM got_rows EXCEPT ALL SELECT * FROM expected)) x) AS differing
	FROM got_rows;

-- A filter that runs another scan of the same index (its query: the outer
-- row's vector, equal to the outer query for rows of '[1,1,1]') between
-- the outer scan's row and its projection.
TRUNCATE expected, got_rows;
INSERT INTO expected SELECT id, embedding <-> '[1,1,1]' FROM sd;
INSERT INTO got_rows SELECT o.id, o.embedding <-> '[1,1,1]' FROM sd o
	WHERE (SELECT max(i.id) FROM (SELECT id FROM sd i ORDER BY i.embedding <-> o.embedding LIMIT 3) i) > 0
		OR o.embedding IS NULL
	ORDER BY o.embedding <-> '[1,1,1]';
SELECT count(*) AS rows, count(*) FILTER (WHERE d = 0) AS equal_to_query,
	(SELECT count(*) FROM ((SELECT * FROM expected EXCEPT ALL SELECT * FROM got_rows)
		UNION ALL (SELECT * FROM got_rows EXCEPT ALL SELECT * FROM expected)) x) AS differing
	FROM got_rows;

-- a cursor's scan, interleaved with another scan of the same index, and
-- a subtransaction that fails between its rows
BEGIN;
DECLARE c CURSOR FOR
	SELECT id, embedding <-> '[0,0,1]' AS d FROM sd ORDER BY embedding <-> '[0,0,1]';
FETCH 2 FROM c;
SELECT id, embedding <-> '[1,0,0]' AS d FROM sd ORDER BY embedding <-> '[1,0,0]' LIMIT 2;
SAVEPOINT s;
SELECT id, 1 / 0 FROM sd ORDER BY embedding <-> '[0,1,0]' LIMIT 1;
ROLLBACK TO s;
FETCH 2 FROM c;
COMMIT;

-- each partition's scan reads its own scan's distances
CREATE TABLE sdp (id int, embedding vector(3)) PARTITION BY RANGE (id);
CREATE TABLE sdp_low PARTITION OF sdp FOR VALUES FROM (0) TO (150);
CREATE TABLE sdp_high PARTITION OF sdp FOR VALUES FROM (150) TO (1000);
INSERT INTO sdp SELECT id, embedding FROM sd;
CREATE INDEX ON sdp USING hybrid (embedding vector_l2_ops);
ANALYZE sdp;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM sdp ORDER BY embedding <-> '[1,0,1]' LIMIT 3;
SELECT id, embedding <-> '[1,0,1]' AS d FROM sdp ORDER BY embedding <-> '[1,0,1]', id LIMIT 4;
-- the partitioned index holds no rows: the statistics list its partitions'
SELECT index, "table", rows FROM hybridsearch_stats WHERE "table"::text LIKE 'sdp%' ORDER BY 1;
SELECT rows FROM hybridsearch_index_stats('sdp_embedding_idx');
SELECT hybridsearch_prewarm('sdp_embedding_idx');

-- the other operator classes' query types, and an expression index
CREATE TABLE sdt (id int, h halfvec(3), s sparsevec(3), e vector(3));
INSERT INTO sdt SELECT id, embedding::halfvec(3), embedding::sparsevec(3), embedding FROM sd;
CREATE INDEX ON sdt USING hybrid (h halfvec_cosine_ops);
CREATE INDEX ON sdt USING hybrid (s sparsevec_l1_ops);
CREATE INDEX ON sdt USING hybrid ((binary_quantize(e)::bit(3)) bit_hamming_ops);
ANALYZE sdt;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM sdt ORDER BY h <=> '[1,2,3]' LIMIT 1;
SELECT id, h <=> '[1,2,3]' AS d FROM sdt ORDER BY h <=> '[1,2,3]', id LIMIT 3;
SELECT id, s <+> '{1:1,3:2}/3' AS d FROM sdt ORDER BY s <+> '{1:1,3:2}/3', id LIMIT 3;
SELECT id, binary_quantize(e)::bit(3) <~> '101' AS d FROM sdt
	ORDER BY binary_quantize(e)::bit(3) <~> '101', id LIMIT 3;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id, h <=> '[1,2,3]' AS d FROM sdt ORDER BY h <=> '[1,2,3]', id LIMIT 3;
SELECT id, s <+> '{1:1,3:2}/3' AS d FROM sdt ORDER BY s <+> '{1:1,3:2}/3', id LIMIT 3;
RESET enable_indexscan;
SET enable_seqscan = off;

-- off: the executor computes the distance, as PostgreSQL does by default
SET hybridsearch.reuse_scan_distances = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM sd ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
RESET hybridsearch.reuse_scan_distances;
