-- hybrid operator classes over halfvec, bit and sparsevec: each picks its
-- index (also over the expressions pgvector's README indexes), returns what
-- a sequential scan returns, and the README's examples run with their
-- index DDL (USING hybrid where pgvector has hnsw).
SET extra_float_digits = 0;

-- same_as_seqscan(query): true when the query's plan scans a hybrid index
-- and its rows, in its order, equal those with index scans off
CREATE FUNCTION same_as_seqscan(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	plan text;
	indexed text;
	sequential text;
BEGIN
	SET LOCAL enable_seqscan = off;
	FOR plan IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		EXIT WHEN plan LIKE '%Index Scan using%';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using%' THEN
		RAISE NOTICE 'no index scan: %', query;
		RETURN false;
	END IF;
	EXECUTE format('SELECT string_agg(r::text, '';'') FROM (%s) r', query) INTO indexed;
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_indexscan = off;
	EXECUTE format('SELECT string_agg(r::text, '';'') FROM (%s) r', query) INTO sequential;
	RESET enable_indexscan;
	RETURN indexed IS NOT DISTINCT FROM sequential;
END $$;

-- 60 rows of 4 dimensions without ties in any distance to the queries
-- below, a few zeros, a NULL and a zero vector
CREATE TABLE ht (id int PRIMARY KEY, category int, embedding vector(4));
INSERT INTO ht
SELECT i, i % 3,
	   ARRAY[round(sin(i * 1.1)::numeric, 3), round(cos(i * 0.7)::numeric, 3),
			 CASE WHEN i % 4 = 0 THEN 0 ELSE round(sin(i * 0.3 + 1)::numeric, 3) END,
			 round((i % 7 - 3)::numeric / 4 + i / 1000.0, 4)]::real[]::vector(4)
FROM generate_series(1, 60) i;
UPDATE ht SET embedding = NULL WHERE id = 13;
UPDATE ht SET embedding = '[0,0,0,0]' WHERE id = 29;
CREATE TABLE hh (id int PRIMARY KEY, category int, embedding halfvec(4));
INSERT INTO hh SELECT id, category, embedding::halfvec(4) FROM ht;
CREATE TABLE hb (id int PRIMARY KEY, category int, embedding bit(4));
INSERT INTO hb SELECT id, category, binary_quantize(embedding)::bit(4) FROM ht;
CREATE TABLE hs (id int PRIMARY KEY, category int, embedding sparsevec(4));
INSERT INTO hs SELECT id, category, embedding::sparsevec(4) FROM ht;

CREATE INDEX hh_l2 ON hh USING hybrid (embedding halfvec_l2_ops);
CREATE INDEX hh_ip ON hh USING hybrid (embedding halfvec_ip_ops);
CREATE INDEX hh_cosine ON hh USING hybrid (embedding halfvec_cosine_ops);
CREATE INDEX hh_l1 ON hh USING hybrid (embedding halfvec_l1_ops);
CREATE INDEX hb_hamming ON hb USING hybrid (embedding bit_hamming_ops);
CREATE INDEX hb_jaccard ON hb USING hybrid (embedding bit_jaccard_ops);
CREATE INDEX hs_l2 ON hs USING hybrid (embedding sparsevec_l2_ops);
CREATE INDEX hs_ip ON hs USING hybrid (embedding sparsevec_ip_ops);
CREATE INDEX hs_cosine ON hs USING hybrid (embedding sparsevec_cosine_ops);
CREATE INDEX hs_l1 ON hs USING hybrid (embedding sparsevec_l1_ops);
CREATE INDEX ht_half ON ht USING hybrid ((embedding::halfvec(4)) halfvec_l2_ops);
CREATE INDEX ht_binary ON ht USING hybrid ((binary_quantize(embedding)::bit(4)) bit_hamming_ops);
ANALYZE hh, hb, hs, ht;
SET enable_seqscan = off;

-- each operator picks its index
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY embedding <#> '[1,0,0.5,0.25]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY embedding <=> '[1,0,0.5,0.25]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY embedding <+> '[1,0,0.5,0.25]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hb ORDER BY embedding <~> '1010' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hb ORDER BY embedding <%> '1010' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY embedding <-> '{1:1,3:0.5}/4' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY embedding <#> '{1:1,3:0.5}/4' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY embedding <=> '{1:1,3:0.5}/4' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY embedding <+> '{1:1,3:0.5}/4' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ht ORDER BY embedding::halfvec(4) <-> '[1,0,0.5,0.25]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM ht ORDER BY binary_quantize(embedding)::bit(4) <~> '1010' LIMIT 3;
-- another operator than the index's is not served by it
EXPLAIN (COSTS OFF) SELECT id FROM ht ORDER BY embedding::halfvec(4) <=> '[1,0,0.5,0.25]' LIMIT 3;

-- the nearest rows, with their distances
SELECT id, embedding <-> '[1,0,0.5,0.25]' AS d FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]' LIMIT 5;
SELECT id, embedding <=> '{1:1,3:0.5}/4' AS d FROM hs ORDER BY embedding <=> '{1:1,3:0.5}/4' LIMIT 5;
SELECT id, embedding <%> '1010' AS d FROM hb ORDER BY embedding <%> '1010', id LIMIT 5;

-- every row, NULLs last (and the zero vector's NaN cosine before them),
-- equal to a sequential scan; with filters and limits
SELECT same_as_seqscan($$SELECT id, embedding <-> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT id, embedding <#> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <#> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT id, embedding <=> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <=> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT id, embedding <+> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <+> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT id, embedding <-> '{1:1,3:0.5}/4' FROM hs ORDER BY embedding <-> '{1:1,3:0.5}/4'$$);
SELECT same_as_seqscan($$SELECT id, embedding <#> '{1:1,3:0.5}/4' FROM hs ORDER BY embedding <#> '{1:1,3:0.5}/4'$$);
SELECT same_as_seqscan($$SELECT id, embedding <=> '{1:1,3:0.5}/4' FROM hs ORDER BY embedding <=> '{1:1,3:0.5}/4'$$);
SELECT same_as_seqscan($$SELECT id, embedding <+> '{1:1,3:0.5}/4' FROM hs ORDER BY embedding <+> '{1:1,3:0.5}/4'$$);
SELECT same_as_seqscan($$SELECT id, embedding <-> '[1,0,0.5,0.25]' FROM hh WHERE category = 1 ORDER BY embedding <-> '[1,0,0.5,0.25]' LIMIT 7$$);
SELECT same_as_seqscan($$SELECT id, embedding <=> '{1:1,3:0.5}/4' FROM hs WHERE category = 2 ORDER BY embedding <=> '{1:1,3:0.5}/4' LIMIT 7$$);
SELECT same_as_seqscan($$SELECT id, embedding::halfvec(4) <-> '[1,0,0.5,0.25]' FROM ht ORDER BY embedding::halfvec(4) <-> '[1,0,0.5,0.25]'$$);
-- bit distances tie a lot: the distances in order, and the rows as a set
SELECT same_as_seqscan($$SELECT embedding <~> '1010' FROM hb ORDER BY embedding <~> '1010'$$);
SELECT same_as_seqscan($$SELECT embedding <%> '1010' FROM hb ORDER BY embedding <%> '1010'$$);
SELECT same_as_seqscan($$SELECT binary_quantize(embedding)::bit(4) <~> '1010' FROM ht ORDER BY binary_quantize(embedding)::bit(4) <~> '1010'$$);
SELECT same_as_seqscan($$SELECT id FROM (SELECT id FROM hb ORDER BY embedding <%> '1010') r ORDER BY id$$);

-- halfvec indexes keep an fp16 copy by default; also with a float4 copy,
-- and streaming their pages
ALTER INDEX hh_l2 SET (precision = full);
SELECT same_as_seqscan($$SELECT id, embedding <-> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]'$$);
ALTER INDEX hh_l2 RESET (precision);
SET hybridsearch.cpu_cache = off;
SELECT same_as_seqscan($$SELECT id, embedding <-> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT id, embedding <=> '[1,0,0.5,0.25]' FROM hh WHERE category = 0 ORDER BY embedding <=> '[1,0,0.5,0.25]' LIMIT 5$$);
RESET hybridsearch.cpu_cache;

-- ORDER BY distance to NULL returns every row, distances NULL
SELECT count(*), count(d) FROM (SELECT embedding <-> NULL AS d FROM hh ORDER BY embedding <-> NULL) r;

-- errors as the operators raise them, and the index's own
SELECT id FROM hh ORDER BY embedding <-> '[1,2,3]' LIMIT 1;
SELECT id FROM hb ORDER BY embedding <~> '101' LIMIT 1;
SELECT id FROM hs ORDER BY embedding <-> '{1:1}/3' LIMIT 1;
CREATE TABLE free_dims (id int, h halfvec, s sparsevec, b varbit);
CREATE INDEX ON free_dims USING hybrid (h halfvec_l2_ops);
CREATE INDEX ON free_dims USING hybrid (s sparsevec_l2_ops);
CREATE INDEX ON free_dims USING hybrid (b bit_hamming_ops);
INSERT INTO free_dims VALUES (1, '[1,2]', '{1:1}/2', '10'), (2, NULL, NULL, NULL);
INSERT INTO free_dims (id, h) VALUES (3, '[1,2,3]');
INSERT INTO free_dims (id, s) VALUES (3, '{1:1}/3');
INSERT INTO free_dims (id, b) VALUES (3, '101');
INSERT INTO free_dims (id, b) VALUES (3, repeat('1', 64001)::varbit);
INSERT INTO free_dims (id, s) VALUES (3, ('{' || (SELECT string_agg(i || ':1', ',') FROM generate_series(1, 8000) i) || '}/8000')::sparsevec);
SELECT * FROM hybridsearch_verify('free_dims_h_idx');
SELECT * FROM hybridsearch_verify('free_dims_s_idx');
SELECT * FROM hybridsearch_verify('free_dims_b_idx');
DROP TABLE free_dims;

-- after DELETE, UPDATE, VACUUM and REINDEX
DELETE FROM hh WHERE id % 5 = 0;
UPDATE hh SET embedding = '[0.5,0.5,0.5,0.5]' WHERE id = 7;
UPDATE hs SET embedding = '{2:1}/4' WHERE id % 6 = 1;
VACUUM hh, hs;
SELECT same_as_seqscan($$SELECT id, embedding <-> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <-> '[1,0,0.5,0.25]'$$);
-- (the UPDATE made ties: distances in order, rows as a set)
SELECT same_as_seqscan($$SELECT embedding <-> '{1:1,3:0.5}/4' FROM hs ORDER BY embedding <-> '{1:1,3:0.5}/4'$$);
SELECT same_as_seqscan($$SELECT id FROM (SELECT id FROM hs ORDER BY embedding <-> '{1:1,3:0.5}/4') r ORDER BY id$$);
REINDEX TABLE hh;
REINDEX TABLE hb;
SELECT same_as_seqscan($$SELECT id, embedding <=> '[1,0,0.5,0.25]' FROM hh ORDER BY embedding <=> '[1,0,0.5,0.25]'$$);
SELECT same_as_seqscan($$SELECT embedding <~> '1010' FROM hb ORDER BY embedding <~> '1010'$$);

-- verify, stats and prewarm
SELECT * FROM hybridsearch_verify('hh_l2');
SELECT * FROM hybridsearch_verify('hb_jaccard');
SELECT * FROM hybridsearch_verify('hs_cosine');
SELECT * FROM hybridsearch_verify('ht_half');
SELECT * FROM hybridsearch_verify('ht_binary');
SELECT index, rows, null_rows, dimensions, search_precision, cpu_cached_rows > 0 AS cached
FROM hybridsearch_stats WHERE index IN ('hh_l2'::regclass, 'hb_hamming'::regclass, 'hs_l2'::regclass) ORDER BY 1::text;
SELECT hybridsearch_prewarm('hh_l2');
SELECT hybridsearch_prewarm('hb_hamming');
SELECT hybridsearch_prewarm('hs_l2');
RESET enable_seqscan;
DROP TABLE hh, hb, hs, ht;
DROP FUNCTION same_as_seqscan(text);

-- pgvector's README: "Half-Precision Indexing" and "Binary Quantization"
-- with their indexes, over the vector(3) table of "Getting Started"
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector(3));
INSERT INTO items (embedding) VALUES ('[1,2,3]'), ('[4,5,6]');
CREATE INDEX ON items USING hybrid ((embedding::halfvec(3)) halfvec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY embedding::halfvec(3) <-> '[1,2,3]' LIMIT 5;
SELECT * FROM items ORDER BY embedding::halfvec(3) <-> '[1,2,3]' LIMIT 5;
CREATE INDEX ON items USING hybrid ((binary_quantize(embedding)::bit(3)) bit_hamming_ops);
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 5;
SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 5;
-- re-ranking by the original vectors in an outer query
EXPLAIN (COSTS OFF) SELECT * FROM (
    SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 20
) candidates ORDER BY embedding <=> '[1,-2,3]' LIMIT 5;
SELECT * FROM (
    SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 20
) candidates ORDER BY embedding <=> '[1,-2,3]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items;

-- "Binary Vectors", indexed
CREATE TABLE items (id bigserial PRIMARY KEY, embedding bit(3));
INSERT INTO items (embedding) VALUES ('000'), ('111');
CREATE INDEX ON items USING hybrid (embedding bit_hamming_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY embedding <~> '101' LIMIT 5;
SELECT * FROM items ORDER BY embedding <~> '101' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items;

-- "Half-Precision Vectors" and "Sparse Vectors", indexed
CREATE TABLE items (id bigserial PRIMARY KEY, embedding halfvec(3));
INSERT INTO items (embedding) VALUES ('[1,2,3]'), ('[4,5,6]');
CREATE INDEX ON items USING hybrid (embedding halfvec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY embedding <-> '[3,1,2]' LIMIT 5;
SELECT * FROM items ORDER BY embedding <-> '[3,1,2]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding sparsevec(5));
INSERT INTO items (embedding) VALUES ('{1:1,3:2,5:3}/5'), ('{1:4,3:5,5:6}/5');
CREATE INDEX ON items USING hybrid (embedding sparsevec_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY embedding <-> '{1:3,3:1,5:2}/5' LIMIT 5;
SELECT * FROM items ORDER BY embedding <-> '{1:3,3:1,5:2}/5' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items;
