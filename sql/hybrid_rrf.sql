--
-- hybrid_rrf: hybridsearch_rrf(text_ranked, vector_ranked, k), reciprocal
-- rank fusion of a full-text and a vector ranking.  Each id comes once, with
-- score = sum over the lists it is in of 1/(k + rank), rank 1-based; rows in
-- order of score descending, then id.  Every expected score below is written
-- out as the sum of its terms and compared exactly (=) with the function's.
--
\set SHOW_CONTEXT never

-- text ranking 10, 20, 30; vector ranking 30, 10, 40; k = 60 (the default)
--   10: 1/61 + 1/62   30: 1/63 + 1/61   20: 1/62   40: 1/63
SELECT r.*, r.score = e.score AS exact
FROM hybridsearch_rrf('{10,20,30}', '{30,10,40}') WITH ORDINALITY AS r(id, score, text_rank, vector_rank, n)
JOIN (VALUES (10, 1/61::float8 + 1/62::float8), (30, 1/63::float8 + 1/61::float8),
             (20, 1/62::float8), (40, 1/63::float8)) e(id, score) USING (id)
ORDER BY n;
-- the column names and types
SELECT pg_typeof(id), pg_typeof(score), pg_typeof(text_rank), pg_typeof(vector_rank)
FROM hybridsearch_rrf('{1}', '{1}');

-- ties are exact: 1/61 + 1/62 = 1/62 + 1/61 bit for bit; equal scores come in
-- id order, whichever list ranks an id first
SELECT * FROM hybridsearch_rrf('{7,3}', '{3,7}');
SELECT count(DISTINCT score) AS distinct_scores, min(score) = 1/61::float8 + 1/62::float8 AS exact
FROM hybridsearch_rrf('{7,3}', '{3,7}');
SELECT * FROM hybridsearch_rrf('{5}', '{4}');		-- 1/61 each, 4 before 5

-- disjoint lists interleave: equal ranks tie, the smaller id first
SELECT * FROM hybridsearch_rrf('{1,2,3}', '{6,5,4}');
-- the same id in both lists at the same rank: twice 1/(k + rank)
SELECT *, score = 2/61::float8 AS exact FROM hybridsearch_rrf('{9}', '{9}');

-- empty and NULL lists: a NULL list counts as an empty one
SELECT * FROM hybridsearch_rrf('{}', '{}');
SELECT * FROM hybridsearch_rrf(NULL, NULL);
SELECT *, score = 1/(60 + coalesce(text_rank, vector_rank))::float8 AS exact
FROM hybridsearch_rrf(NULL, '{3,1}');
SELECT *, score = 1/(60 + coalesce(text_rank, vector_rank))::float8 AS exact
FROM hybridsearch_rrf('{3,1}', '{}');
SELECT * FROM hybridsearch_rrf('{}', NULL, 1);

-- duplicates within one list count at their first position only; later
-- copies are ignored and do not shift the others (6 keeps text rank 3)
--   5: 1/61   6: 1/63 + 1/61
SELECT *, score = CASE id WHEN 5 THEN 1/61::float8 ELSE 1/63::float8 + 1/61::float8 END AS exact
FROM hybridsearch_rrf('{5,5,6,5}', '{6,6}');
-- ranks count from the first element, whatever the array's lower bound
SELECT * FROM hybridsearch_rrf('[0:2]={7,8,9}', '[-5:-4]={9,1}', 1);
-- any id, negative and extreme ones included
SELECT * FROM hybridsearch_rrf('{-9223372036854775808,0}', '{9223372036854775807,0}');

-- k: 1 in text rank 1, 21 in vector rank 1, 4 in rank 4 of both
--   k = 1:  1 and 21 score 1/2, 4 scores 1/5 + 1/5      -> 1, 21, 4
--   k = 2:  1 and 21 score 1/3, 4 scores 1/6 + 1/6 = 1/3 exactly -> 1, 4, 21
--   k = 60: 4 scores 2/64 > 1/61                         -> 4, 1, 21
SELECT k, r.id, r.score, r.text_rank, r.vector_rank
FROM unnest(ARRAY[1, 2, 60]) k,
     LATERAL hybridsearch_rrf('{1,11,12,4}', '{21,22,23,4}', k) WITH ORDINALITY r
WHERE r.ordinality <= 3
ORDER BY k, r.ordinality;
SELECT 1/6::float8 + 1/6::float8 = 1/3::float8 AS k2_tie_is_exact;
-- the largest k: 2/(2^31) = 2^-30 exactly
SELECT *, score = power(2::float8, -30) AS exact FROM hybridsearch_rrf('{1}', '{1}', 2147483647);
-- named arguments; integer[] lists are cast to bigint[]
SELECT * FROM hybridsearch_rrf(vector_ranked => '{2}', text_ranked => '{1,2}', k => 10);
SELECT * FROM hybridsearch_rrf(ARRAY[1, 2]::integer[], ARRAY[2]::integer[]);

-- errors
SELECT * FROM hybridsearch_rrf('{1}', '{1}', 0);
SELECT * FROM hybridsearch_rrf('{1}', '{2,NULL}');
\set VERBOSITY sqlstate
SELECT * FROM hybridsearch_rrf('{1}', '{1}', 0);
SELECT * FROM hybridsearch_rrf('{1}', '{1}', -1);
SELECT * FROM hybridsearch_rrf('{1}', '{1}', NULL);
SELECT * FROM hybridsearch_rrf('{1,NULL}', '{1}');
SELECT * FROM hybridsearch_rrf('{1}', '{NULL}');
SELECT * FROM hybridsearch_rrf('{{1,2},{3,4}}', '{1}');
\set VERBOSITY default
-- each error's SQLSTATE, message and detail
CREATE FUNCTION rrf_error(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' / ' || nullif(detail, ''), '');
END
$$;
SELECT query, rrf_error('SELECT * FROM hybridsearch_rrf(' || query || ')') AS error
FROM (VALUES ($$'{1}', '{1}', 0$$),
             ($$'{1}', '{1}', -2147483648$$),
             ($$'{1}', '{1}', NULL$$),
             ($$NULL, NULL, NULL$$),
             ($$'{}', '{}', 0$$),
             ($$'{1,NULL}', '{1}'$$),
             ($$'{1}', '{3,2,NULL}'$$),
             ($$'{NULL}', '{NULL}'$$),
             ($$'[5:7]={7,NULL,9}', '{}'$$),
             ($$'{{1,2},{3,4}}', '{1}'$$),
             ($$'{1}', '{{1},{2}}'$$),
             ($$'{1}', '{1}', 1$$)) q(query);
DROP FUNCTION rrf_error(text);

-- the function: immutable, parallel safe, not strict (a NULL list is an
-- empty one), a set of 100 rows to the planner, k defaults to 60
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel,
       p.proretset, p.prorows, l.lanname,
       pg_get_function_arguments(p.oid) AS arguments
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.proname = 'hybridsearch_rrf';
SELECT obj_description('hybridsearch_rrf(bigint[],bigint[],integer)'::regprocedure, 'pg_proc');

-- every object of the extension has a comment (none listed)
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS without_comment
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND e.extname = 'hybridsearch'
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
ORDER BY 1;
SELECT d.classid::regclass AS catalog, count(*) AS objects,
       count(obj_description(d.objid, d.classid::regclass::name)) AS commented
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND e.extname = 'hybridsearch'
GROUP BY 1 ORDER BY 1::text COLLATE "C";

--
-- end to end: documents with a GIN-indexed tsvector and a hybrid-indexed
-- embedding; the best 5 of each ranking, fused
--
CREATE TABLE rrf_docs (
	id bigint PRIMARY KEY,
	body text NOT NULL,
	tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
	embedding vector(3)
);
INSERT INTO rrf_docs (id, body, embedding) VALUES
	(1, 'Exact vector search on the GPU', '[0.6,0.8,0]'),
	(2, 'Nearest neighbour search without an index', '[1,0,0]'),
	(3, 'A GPU kernel for dense distance computations', '[0,1,0]'),
	(4, 'Full-text search with tsvector and GIN', '[0.8,0.6,0]'),
	(5, 'Cooking with cast iron', '[-1,0,0]'),
	(6, 'GPU memory and GPU search: batching queries on the GPU', '[1,2,0]'),
	(7, 'An untitled note without an embedding', NULL),
	(8, 'Search engines rank documents', '[2,1,2]');
CREATE INDEX rrf_docs_tsv ON rrf_docs USING gin (tsv);
CREATE INDEX rrf_docs_embedding ON rrf_docs USING hybrid (embedding vector_cosine_ops);
ANALYZE rrf_docs;
SET enable_seqscan = off;

-- each ranking on its own: text 6, 1, 2, 3, 4 (2, 3, 4 and 8 tie at 0.1,
-- id breaks the tie, 8 is cut); vector 2, 4, 8, 1, 6
SELECT id, ts_rank_cd(tsv, q) AS text_score
FROM rrf_docs, websearch_to_tsquery('english', 'gpu or search') q
WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, id;
SELECT id, embedding <=> '[1,0,0]' AS distance
FROM rrf_docs ORDER BY embedding <=> '[1,0,0]' LIMIT 5;

-- the fused query, as a prepared statement; the vector side is served by
-- the hybrid index, the text side by the GIN index
PREPARE rrf_search(text, vector, integer) AS
SELECT r.id, r.score, r.text_rank, r.vector_rank, d.body
FROM hybridsearch_rrf(
	ARRAY(SELECT id FROM rrf_docs, websearch_to_tsquery('english', $1) q
	      WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, id LIMIT $3),
	ARRAY(SELECT id FROM rrf_docs ORDER BY embedding <=> $2 LIMIT $3)) r
JOIN rrf_docs d USING (id)
ORDER BY r.score DESC, r.id;
EXPLAIN (COSTS OFF) EXECUTE rrf_search('gpu or search', '[1,0,0]', 5);
--   2: 1/63 + 1/61   6: 1/61 + 1/65   1: 1/62 + 1/64   4: 1/65 + 1/62
--   8: 1/63          3: 1/64          (5 and 7 are in neither top 5)
EXECUTE rrf_search('gpu or search', '[1,0,0]', 5);
SELECT r.id, r.score = e.score AS exact
FROM hybridsearch_rrf(
	ARRAY(SELECT id FROM rrf_docs, websearch_to_tsquery('english', 'gpu or search') q
	      WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, id LIMIT 5),
	ARRAY(SELECT id FROM rrf_docs ORDER BY embedding <=> '[1,0,0]' LIMIT 5))
	WITH ORDINALITY r
JOIN (VALUES (2, 1/63::float8 + 1/61::float8), (6, 1/61::float8 + 1/65::float8),
             (1, 1/62::float8 + 1/64::float8), (4, 1/65::float8 + 1/62::float8),
             (8, 1/63::float8), (3, 1/64::float8)) e(id, score) USING (id)
ORDER BY r.ordinality;

-- with a generic plan the query vector is a parameter: still the index
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE rrf_search('gpu or search', '[1,0,0]', 5);
EXECUTE rrf_search('gpu or search', '[1,0,0]', 5);
RESET plan_cache_mode;

-- the index's vector ranking is the sequential scan's
SELECT ARRAY(SELECT id FROM rrf_docs ORDER BY embedding <=> '[1,0,0]') AS by_index;
SET enable_seqscan = on;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM rrf_docs ORDER BY embedding <=> '[1,0,0]';
SELECT ARRAY(SELECT id FROM rrf_docs ORDER BY embedding <=> '[1,0,0]') AS by_seqscan;
RESET enable_indexscan;
SET enable_seqscan = off;

-- no text match: the vector ranking alone (3 at distance 0, then 6, 1),
-- text_rank NULL throughout
EXECUTE rrf_search('tokamak', '[0,1,0]', 3);
-- a row without an embedding comes last in the vector ranking (7 above,
-- after 5); WHERE embedding IS NOT NULL leaves it out, still by the index
EXPLAIN (COSTS OFF)
SELECT id FROM rrf_docs WHERE embedding IS NOT NULL ORDER BY embedding <=> '[1,0,0]' LIMIT 10;
SELECT ARRAY(SELECT id FROM rrf_docs WHERE embedding IS NOT NULL
             ORDER BY embedding <=> '[1,0,0]' LIMIT 10) AS vector_ranked;
DEALLOCATE rrf_search;
RESET enable_seqscan;
DROP TABLE rrf_docs;
