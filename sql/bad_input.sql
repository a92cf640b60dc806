--
-- bad_input: malformed and extreme input through SQL, table-driven.  Each
-- case runs in its own subtransaction; the output lists its SQLSTATE
-- (00000 when it succeeded) and message or result.  The server must stay up
-- through all of them (the last query).
--
CREATE FUNCTION bad_input_try(query text, OUT state text, OUT message text) AS $$
DECLARE
    result text;
BEGIN
    EXECUTE query INTO result;
    state := '00000';
    message := coalesce(left(result, 60), 'ok');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$ LANGUAGE plpgsql;

CREATE TABLE bad_input_cases (n serial, area text, query text);

-- malformed literals
INSERT INTO bad_input_cases (area, query)
SELECT 'literal', format('SELECT %L::vector::text', lit) FROM (VALUES
    (''), ('['), (']'), ('[]'), ('[,]'), ('[1,,2]'), ('[1 2]'), ('[1;2]'),
    ('[1,2]x'), ('[[1]]'), ('[1,2'), ('1,2'), ('{1,2}'), ('(1,2)'),
    ('[a]'), ('[1e]'), ('[1.2.3]'), ('[--1]'), ('[1_000]'), ('[0x1p3]'),
    ('[' || chr(9) || '1]'), ('[1' || chr(11) || ']'), ('[1' || chr(1) || ']'),
    ('[' || repeat('9', 400) || ']'), ('[' || repeat('0', 10000) || '1]'),
    ('[1e-46]'), ('[ 1 , 2 ]'), ('[+1,-0]')
) AS l(lit);

-- NaN and infinities: in literals, casts and from arithmetic
INSERT INTO bad_input_cases (area, query) VALUES
    ('nonfinite', $$SELECT '[NaN]'::vector::text$$),
    ('nonfinite', $$SELECT '[1,-nan]'::vector::text$$),
    ('nonfinite', $$SELECT '[Infinity]'::vector::text$$),
    ('nonfinite', $$SELECT '[-inf]'::vector::text$$),
    ('nonfinite', $$SELECT '[1e39]'::vector::text$$),
    ('nonfinite', $$SELECT '[-3.5e38]'::vector::text$$),
    ('nonfinite', $$SELECT '{NaN}'::real[]::vector::text$$),
    ('nonfinite', $$SELECT '{-Infinity}'::float8[]::vector::text$$),
    ('nonfinite', $$SELECT '{1e300}'::float8[]::vector::text$$),
    ('nonfinite', $$SELECT '{Infinity}'::numeric[]::vector::text$$),
    ('nonfinite', $$SELECT '{1e39}'::numeric[]::vector::text$$),
    ('nonfinite', $$SELECT ('[3e38,1]'::vector + '[3e38,1]')::text$$),
    ('nonfinite', $$SELECT ('[-3e38]'::vector + '[-3e38]')::text$$),
    ('nonfinite', $$SELECT ('[3e38]'::vector - '[-3e38]')::text$$),
    ('nonfinite', $$SELECT ('[1,1e20]'::vector * '[1,1e20]')::text$$),
    ('nonfinite', $$SELECT ('[1e-30]'::vector * '[1e-30]')::text$$),
    ('nonfinite', $$SELECT ('[3.4028234e38]'::vector + '[1e31]')::text$$),
    ('nonfinite', $$SELECT sum(v)::text FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$),
    ('nonfinite', $$SELECT avg(v)::text FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$),
    ('nonfinite', $$SELECT l2_normalize('[3e38,3e38]'::vector)::text$$),
    ('nonfinite', $$SELECT vector_norm('[3e38,3e38]'::vector)::text$$),
    -- distances are float8 results: they may overflow to Infinity
    ('nonfinite', $$SELECT ('[3e38,3e38]'::vector <-> '[-3e38,-3e38]')::text$$),
    ('nonfinite', $$SELECT ('[3e38]'::vector <#> '[3e38]')::text$$),
    ('nonfinite', $$SELECT ('[0,0]'::vector <=> '[1,1]')::text$$);

-- dimensions: 0, the limit, one past it, huge
INSERT INTO bad_input_cases (area, query) VALUES
    ('dimensions', $$SELECT vector_dims(array_fill(1, ARRAY[16000])::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(array_fill(1, ARRAY[16001])::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(array_fill(1, ARRAY[10000000])::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(('[' || repeat('1,', 16000) || '1]')::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(('[' || repeat('1,', 1000000) || '1]')::vector)::text$$),
    ('dimensions', $$SELECT '{}'::int[]::vector::text$$),
    ('dimensions', $$SELECT '{{1,2},{3,4}}'::real[]::vector::text$$),
    ('dimensions', $$SELECT '{1,NULL}'::float8[]::vector::text$$),
    ('dimensions', $$SELECT vector_dims(array_fill(8000, ARRAY[8000])::vector || array_fill(1, ARRAY[8000])::vector)::text$$),
    ('dimensions', $$SELECT vector_dims(array_fill(8000, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector)::text$$),
    ('dimensions', $$SELECT '[1]'::vector(0)::text$$),
    ('dimensions', $$SELECT '[1]'::vector(-1)::text$$),
    ('dimensions', $$SELECT vector_dims(array_fill(1, ARRAY[16000])::vector(16000))::text$$),
    ('dimensions', $$SELECT '[1]'::vector(16001)::text$$),
    ('dimensions', $$SELECT '[1]'::vector(2147483647)::text$$),
    ('dimensions', $$SELECT '[1]'::vector(99999999999)::text$$),
    ('dimensions', $$SELECT '[1]'::vector(1, 2)::text$$),
    ('dimensions', $$SELECT '[1,2]'::vector(3)::text$$),
    ('dimensions', $$SELECT subvector('[1,2,3]'::vector, 2147483647, 2147483647)::text$$),
    ('dimensions', $$SELECT subvector('[1,2,3]'::vector, -2147483648, 2147483647)::text$$),
    ('dimensions', $$SELECT subvector('[1,2,3]'::vector, 0, 2)::text$$),
    ('dimensions', $$SELECT subvector('[1,2,3]'::vector, 2, -1)::text$$);

-- dimension mismatches in every binary function and operator
INSERT INTO bad_input_cases (area, query)
SELECT 'mismatch', format('SELECT (%s)::text', e) FROM (VALUES
    ($$'[1,2,3]'::vector <-> '[1,2]'$$), ($$'[1,2,3]'::vector <#> '[1,2]'$$),
    ($$'[1,2,3]'::vector <=> '[1,2]'$$), ($$'[1,2,3]'::vector <+> '[1,2]'$$),
    ($$'[1,2,3]'::vector + '[1,2]'$$), ($$'[1,2,3]'::vector - '[1,2]'$$),
    ($$'[1,2,3]'::vector * '[1,2]'$$),
    ($$l2_distance('[1,2,3]'::vector, '[1,2]')$$), ($$inner_product('[1,2,3]'::vector, '[1,2]')$$),
    ($$cosine_distance('[1,2,3]'::vector, '[1,2]')$$), ($$l1_distance('[1,2,3]'::vector, '[1,2]')$$),
    ($$vector_negative_inner_product('[1,2,3]', '[1,2]')$$),
    ($$vector_add('[1,2,3]', '[1,2]')$$), ($$vector_sub('[1,2,3]', '[1,2]')$$),
    ($$vector_mul('[1,2,3]', '[1,2]')$$),
    ($$(SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v))$$),
    ($$(SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v))$$),
    -- comparisons and concatenation take different lengths
    ($$'[1,2,3]'::vector < '[1,2]'$$), ($$vector_cmp('[1,2]', '[1,2,3]')$$),
    ($$'[1,2,3]'::vector || '[1,2]'$$)
) AS m(e);

-- hybrid indexes: options, definitions, dimensions of values and queries
CREATE TABLE bad_input_items (id int, v vector, w vector(2), n int);
INSERT INTO bad_input_items VALUES (1, '[1,2,3]', '[1,2]', 1), (2, '[3,2,1]', NULL, 2);
CREATE INDEX bad_input_v ON bad_input_items USING hybrid (v);
INSERT INTO bad_input_cases (area, query) VALUES
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (precision = quarter)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (precision = '')$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (precision)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (precision = half, precision = full)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (fillfactor = 50)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) WITH (lists = 100)$$),
    ('index', $$ALTER INDEX bad_input_v SET (precision = bogus)$$),
    ('index', $$ALTER INDEX bad_input_v SET (bogus = 1)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v, w)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (n)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v vector_ops)$$),
    ('index', $$CREATE UNIQUE INDEX ON bad_input_items USING hybrid (v)$$),
    ('index', $$CREATE INDEX ON bad_input_items USING hybrid (v) INCLUDE (n)$$),
    ('index', $$INSERT INTO bad_input_items VALUES (3, '[1,2]')$$),
    ('index', $$INSERT INTO bad_input_items VALUES (3, array_fill(1, ARRAY[16000])::vector)$$),
    ('index', $$UPDATE bad_input_items SET v = '[1,2,3,4]' WHERE id = 1$$),
    ('index', $$SELECT id FROM bad_input_items ORDER BY v <-> '[1,2]' LIMIT 1$$),
    ('index', $$SELECT id FROM bad_input_items ORDER BY v <-> NULL LIMIT 1$$),
    ('index', $$SELECT id FROM bad_input_items ORDER BY v <-> array_fill(1, ARRAY[16000])::vector LIMIT 1$$),
    ('index', $$SELECT hybridsearch_index_stats('bad_input_items')::text$$),
    ('index', $$SELECT hybridsearch_index_stats(0)::text$$),
    ('index', $$SELECT hybridsearch_verify('bad_input_items')::text$$),
    ('index', $$SELECT hybridsearch_verify(0)::text$$),
    ('index', $$SELECT hybridsearch_verify('bad_input_v')::text$$),
    ('index', $$SELECT count(*)::text FROM hybridsearch_rrf('{1}', '{2}', 0)$$),
    ('index', $$SELECT count(*)::text FROM hybridsearch_rrf('{1,NULL}', '{2}')$$);

-- index scans: the planner must take the index for the index cases
SET enable_seqscan = off;
SELECT c.n, c.area, e.state, left(e.message, 100) AS message, left(c.query, 100) AS query
FROM bad_input_cases c, LATERAL bad_input_try(c.query) e
ORDER BY c.n;
RESET enable_seqscan;

-- the index still answers, and verifies
SELECT id FROM bad_input_items ORDER BY v <-> '[1,2,3]';
SELECT * FROM hybridsearch_verify('bad_input_v');

DROP TABLE bad_input_items, bad_input_cases;
DROP FUNCTION bad_input_try(text);
-- the server is still up
SELECT 1 AS alive;
