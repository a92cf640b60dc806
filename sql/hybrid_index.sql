-- The hybrid access method's SQL surface: operator classes, plans, options,
-- results equal to a sequential scan, NULL/NaN placement, errors.
SET extra_float_digits = 0;
CREATE TABLE hi (id int PRIMARY KEY, category int, embedding vector(3));
INSERT INTO hi VALUES
	(1, 1, '[1,0,0]'), (2, 1, '[0,1,0]'), (3, 2, '[0,0,1]'), (4, 2, '[1,1,0]'),
	(5, 3, '[1,1,1]'), (6, 3, '[-1,0,0]'), (7, 1, '[0,0,0]'), (8, 2, NULL),
	(9, 3, '[2,2,2]'), (10, 1, '[1,0,0]');
CREATE INDEX hi_l2 ON hi USING hybrid (embedding vector_l2_ops);
CREATE INDEX hi_ip ON hi USING hybrid (embedding vector_ip_ops);
CREATE INDEX hi_cosine ON hi USING hybrid (embedding vector_cosine_ops);
CREATE INDEX hi_l1 ON hi USING hybrid (embedding vector_l1_ops);
ANALYZE hi;
SET enable_seqscan = off;

-- each operator picks its index
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <#> '[1,1,1]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <=> '[1,1,1]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <+> '[1,1,1]' LIMIT 3;

-- every row comes back, in distance order, ties broken by id only here;
-- NULL vectors last, after the NaN of cosine with a zero vector
SELECT id, embedding <-> '[1,1,1]' AS d FROM hi ORDER BY embedding <-> '[1,1,1]', id;
SELECT id, embedding <-> '[1,1,1]' AS d FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 20;
SELECT id, embedding <#> '[1,1,1]' AS d FROM hi ORDER BY embedding <#> '[1,1,1]' LIMIT 20;
SELECT id, embedding <=> '[1,1,1]' AS d FROM hi ORDER BY embedding <=> '[1,1,1]' LIMIT 20;
SELECT id, embedding <+> '[1,1,1]' AS d FROM hi ORDER BY embedding <+> '[1,1,1]' LIMIT 20;

-- with a filter the scan keeps going until enough rows pass it
SELECT id FROM hi WHERE category = 3 ORDER BY embedding <-> '[0,0,0]' LIMIT 2;
-- ordering by a NULL vector returns every row, distances NULL
SELECT count(*), count(d) FROM (SELECT embedding <-> NULL AS d FROM hi ORDER BY embedding <-> NULL) s;

-- the index is never used for plain filters or without ORDER BY
RESET enable_seqscan;
EXPLAIN (COSTS OFF) SELECT id FROM hi WHERE embedding = '[1,0,0]';
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY id LIMIT 1;
SET enable_seqscan = off;

-- writes are seen at once, also inside the writing transaction
BEGIN;
INSERT INTO hi VALUES (11, 1, '[1,1,1.001]');
SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 2;
ROLLBACK;
SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 2;
UPDATE hi SET embedding = '[5,5,5]' WHERE id = 5;
DELETE FROM hi WHERE id = 9;
VACUUM hi;
SELECT id FROM hi ORDER BY embedding <-> '[5,5,5]' LIMIT 2;
REINDEX INDEX hi_l2;
SELECT id FROM hi ORDER BY embedding <-> '[5,5,5]' LIMIT 2;

-- precision = half gives the same answers
CREATE INDEX hi_half ON hi USING hybrid (embedding vector_l2_ops) WITH (precision = half);
DROP INDEX hi_l2;
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
SELECT id, embedding <-> '[1,1,1]' AS d FROM hi ORDER BY embedding <-> '[1,1,1]' LIMIT 20;

-- bad input
SELECT id FROM hi ORDER BY embedding <-> '[1,1]' LIMIT 1;
CREATE INDEX ON hi USING hybrid (embedding vector_l2_ops) WITH (precision = quarter);
CREATE INDEX ON hi USING hybrid (embedding vector_l2_ops) WITH (lists = 100);
CREATE INDEX ON hi USING hybrid (id);
CREATE INDEX ON hi USING hybrid (embedding vector_l2_ops, embedding vector_l1_ops);
CREATE UNIQUE INDEX ON hi USING hybrid (embedding vector_l2_ops);
CREATE TABLE mixed (embedding vector);
INSERT INTO mixed VALUES ('[1,2,3]'), ('[1,2]');
CREATE INDEX ON mixed USING hybrid (embedding vector_l2_ops);
DELETE FROM mixed WHERE vector_dims(embedding) = 2;
CREATE INDEX mixed_idx ON mixed USING hybrid (embedding vector_l2_ops);
INSERT INTO mixed VALUES ('[1,2]');
INSERT INTO mixed VALUES ('[4,5,6]'), (NULL);
SELECT embedding FROM mixed ORDER BY embedding <-> '[4,5,6]';

-- the stats view
SELECT index, "table", rows, null_rows, dimensions, search_precision,
	cpu_scans + gpu_scans > 0 AS scanned
FROM hybridsearch_stats ORDER BY index::text;
SELECT hybridsearch_index_stats('hi_pkey');

-- two distances in the ORDER BY: the index cannot order ties by the second
EXPLAIN (COSTS OFF) SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]', embedding <-> '[0,0,1]' LIMIT 2;
SELECT id FROM hi ORDER BY embedding <-> '[1,1,1]', embedding <-> '[0,0,1]' LIMIT 2;

-- the stats view is readable by everyone, and shows only tables they may read
CREATE ROLE regress_hi_reader;
CREATE TABLE hi_secret (embedding vector(3));
CREATE INDEX hi_secret_idx ON hi_secret USING hybrid (embedding);
GRANT SELECT ON hi TO regress_hi_reader;
SET ROLE regress_hi_reader;
SELECT index FROM hybridsearch_stats ORDER BY index::text;
SELECT rows FROM hybridsearch_index_stats('hi_secret_idx');
RESET ROLE;
DROP TABLE hi_secret;
REVOKE SELECT ON hi FROM regress_hi_reader;
DROP ROLE regress_hi_reader;

-- operator classes are valid
SELECT amvalidate(oc.oid), opcname FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
WHERE amname = 'hybrid' ORDER BY opcname;

DROP TABLE hi, mixed;
