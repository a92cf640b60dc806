--
-- vector_errors: every error of the vector type with pgvector's message,
-- then each message with its SQLSTATE.
--

--
-- text input
--
SELECT ''::vector;
SELECT '   '::vector;
SELECT '1,2,3'::vector;
SELECT '(1,2,3)'::vector;
SELECT '{1,2,3}'::vector;
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '['::vector;
SELECT '[1'::vector;
SELECT '[1,2,3'::vector;
SELECT '[1,'::vector;
SELECT '[1,]'::vector;
SELECT '[,1]'::vector;
SELECT '[,]'::vector;
SELECT '[1,,2]'::vector;
SELECT '[1 2]'::vector;
SELECT '[1;2]'::vector;
SELECT '[1,2]x'::vector;
SELECT '[1,2] x'::vector;
SELECT '[1,2]]'::vector;
SELECT '[1,2],[3]'::vector;
SELECT '[[1,2]]'::vector;
SELECT '[a]'::vector;
SELECT '[1,a]'::vector;
SELECT '[1a]'::vector;
SELECT '[1.2.3]'::vector;
SELECT '[1e]'::vector;
SELECT '[--1]'::vector;
SELECT '[1,2,"3"]'::vector;
SELECT '[NaN]'::vector;
SELECT '[nan]'::vector;
SELECT '[1,NaN]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[-Infinity]'::vector;
SELECT '[inf]'::vector;
SELECT '[1e39]'::vector;
SELECT '[-1e39]'::vector;
SELECT '[1,3.5e38]'::vector;
SELECT '[1e400]'::vector;
SELECT '[' || repeat('1,', 16000) || '1]' AS too_long \gset
SELECT :'too_long'::vector;
-- the dimension check comes first, whatever the typmod
SELECT :'too_long'::vector(3);

--
-- type modifier
--
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3,4]'::vector(3);
SELECT '[1,2]'::vector::vector(3);
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(-5);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(1,2);
SELECT '[1]'::vector(1,1,1);
CREATE TABLE vector_errors_t (v vector(3));
INSERT INTO vector_errors_t VALUES ('[1,2]');
INSERT INTO vector_errors_t VALUES ('[1,2]'::vector);
INSERT INTO vector_errors_t VALUES ('{1,2}'::int[]);
INSERT INTO vector_errors_t VALUES ('{1,2}'::real[]);
INSERT INTO vector_errors_t VALUES ('{1,2}'::float8[]);
INSERT INTO vector_errors_t VALUES ('{1,2}'::numeric[]);
INSERT INTO vector_errors_t SELECT '[1,2,3]'::vector || '[4]';
COPY vector_errors_t FROM stdin;
[1,2,3]
[1,2]
\.
SELECT count(*) FROM vector_errors_t;
DROP TABLE vector_errors_t;

--
-- "different vector dimensions" from every binary function and operator;
-- both orders, so the message names the left operand first
--
SELECT '[1,2,3]'::vector <-> '[1,2]'::vector;
SELECT '[1,2]'::vector <-> '[1,2,3]'::vector;
SELECT '[1,2,3]'::vector <#> '[1,2]'::vector;
SELECT '[1,2,3]'::vector <=> '[1,2]'::vector;
SELECT '[1,2,3]'::vector <+> '[1,2]'::vector;
SELECT '[1,2,3]'::vector + '[1,2]'::vector;
SELECT '[1,2,3]'::vector - '[1,2]'::vector;
SELECT '[1,2,3]'::vector * '[1,2]'::vector;
SELECT l2_distance('[1,2,3]'::vector, '[1,2]'::vector);
SELECT inner_product('[1,2,3]'::vector, '[1,2]'::vector);
SELECT vector_negative_inner_product('[1,2,3]'::vector, '[1,2]'::vector);
SELECT cosine_distance('[1,2,3]'::vector, '[1,2]'::vector);
SELECT l1_distance('[1,2,3]'::vector, '[1,2]'::vector);
SELECT vector_add('[1,2,3]'::vector, '[1,2]'::vector);
SELECT vector_sub('[1,2,3]'::vector, '[1,2]'::vector);
SELECT vector_mul('[1,2,3]'::vector, '[1,2]'::vector);
SELECT vector_mul('[1,2]'::vector, '[1,2,3]'::vector);
-- comparisons and concatenation accept different lengths (no error)
SELECT '[1,2,3]'::vector < '[1,2]'::vector AS lt, vector_cmp('[1,2,3]', '[1,2]'),
       '[1,2,3]'::vector || '[1,2]'::vector AS concat;

--
-- SQLSTATE of every message (same codes as pgvector)
--
CREATE FUNCTION vector_errors_state(query text,
    OUT state text, OUT message text) AS $$
BEGIN
    EXECUTE query;
    state := '00000';
    message := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$ LANGUAGE plpgsql;

SELECT e.state, e.message, q AS query
FROM (VALUES
    ($$SELECT '[1,2]'::vector$$),
    ($$SELECT '1,2'::vector$$),
    ($$SELECT '[1,2]x'::vector$$),
    ($$SELECT '[1,a]'::vector$$),
    ($$SELECT '[]'::vector$$),
    ($$SELECT '[1e39]'::vector$$),
    ($$SELECT '[NaN]'::vector$$),
    ($$SELECT '[Infinity]'::vector$$),
    ($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$),
    ($$SELECT '[1,2]'::vector(3)$$),
    ($$SELECT '[1,2]'::vector::vector(3)$$),
    ($$SELECT '[1]'::vector(0)$$),
    ($$SELECT '[1]'::vector(16001)$$),
    ($$SELECT '[1]'::vector(1,2)$$),
    ($$SELECT '[1,2]'::vector <-> '[1]'$$),
    ($$SELECT '[3e38]'::vector + '[3e38]'$$),
    ($$SELECT '[-3e38]'::vector - '[3e38]'$$),
    ($$SELECT '[1e30]'::vector * '[1e30]'$$),
    ($$SELECT '[1e-30]'::vector * '[1e-30]'$$),
    ($$SELECT array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector$$),
    ($$SELECT subvector('[1,2]'::vector, 3, 1)$$),
    ($$SELECT '{{1,2},{3,4}}'::int[]::vector$$),
    ($$SELECT '{1,NULL}'::int[]::vector$$),
    ($$SELECT '{}'::int[]::vector$$),
    ($$SELECT '{NaN}'::real[]::vector$$),
    ($$SELECT '{Infinity}'::float8[]::vector$$),
    ($$SELECT '{1e39}'::float8[]::vector$$),
    ($$SELECT array_fill(1, ARRAY[16001])::vector$$),
    ($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v)$$),
    ($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1]')) t(v)$$),
    ($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$)
) AS t(q), LATERAL vector_errors_state(q) e;

DROP FUNCTION vector_errors_state(text);
