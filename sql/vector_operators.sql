--
-- vector_operators: element-wise + - *, concatenation ||, the comparison
-- operators and vector_cmp, and what they enable: ORDER BY, DISTINCT,
-- GROUP BY, btree indexes and UNIQUE constraints.
--

--
-- arithmetic
--
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]',
       '[1,2,3]'::vector * '[4,5,6]';
SELECT vector_add('[1,2,3]', '[4,5,6]'), vector_sub('[1,2,3]', '[4,5,6]'),
       vector_mul('[1,2,3]', '[4,5,6]');
SELECT '[0.5,-1.25]'::vector + '[0.25,1.25]', '[0.5,-1.25]'::vector - '[0.25,1.25]',
       '[0.5,-1.25]'::vector * '[0.25,1.25]';
-- results are float4: 16777216 + 1 rounds back to 16777216
SELECT '[0.1]'::vector + '[0.2]', '[16777216]'::vector + '[1]';
SELECT '[-0]'::vector + '[-0]' AS neg_zero, '[0]'::vector - '[0]' AS zero,
       '[-1]'::vector * '[0]' AS neg_zero_product;
-- + and * commute, - does not
SELECT '[4,5,6]'::vector + '[1,2,3]', '[4,5,6]'::vector - '[1,2,3]',
       '[4,5,6]'::vector * '[1,2,3]';
SELECT '[1,2,3]'::vector + '[1,2,3]'::vector * '[2,2,2]' AS precedence;
-- overflow is an error, never a stored Infinity
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[1,3e38]'::vector + '[1,3e38]';
SELECT '[-3e38]'::vector + '[-3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[3e38]'::vector - '[-3e38]';
SELECT '[1e20]'::vector * '[1e20]';
SELECT '[-1e20]'::vector * '[1e20]';
SELECT vector_add('[3e38]', '[3e38]');
SELECT vector_sub('[-3e38]', '[3e38]');
SELECT vector_mul('[1e20]', '[1e20]');
-- ... and so is a product that underflows to zero
SELECT '[1e-30]'::vector * '[1e-30]';
SELECT '[1,1e-30]'::vector * '[1,-1e-30]';
SELECT vector_mul('[1e-30]', '[1e-30]');
-- a zero operand is no underflow; a subnormal result is none either
SELECT '[0,1e-30,-0]'::vector * '[1e-30,0,1e-30]';
SELECT '[1e-20]'::vector * '[1e-20]', '[1e-30]'::vector * '[1e-10]';
-- + and - that cancel to zero are fine
SELECT '[1e-45]'::vector - '[1e-45]', '[3e38]'::vector + '[-3e38]';
-- the largest results that fit
SELECT '[1.7014117e38]'::vector + '[1.7014117e38]', '[1.8446743e19]'::vector * '[1.8446743e19]';
SELECT vector_add(NULL, '[1]') IS NULL, '[1]'::vector - NULL IS NULL,
       '[1]'::vector * NULL IS NULL;

--
-- concatenation
--
SELECT '[1,2]'::vector || '[3,4,5]', '[1]'::vector || '[-0]',
       '[3,4,5]'::vector || '[1,2]';
SELECT vector_concat('[1]', '[2]'), '[1]'::vector || '[2]'::vector || '[3]'::vector;
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);
SELECT vector_dims(array_fill(1, ARRAY[15999])::vector || '[2]');
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8001])::vector;
SELECT array_fill(1, ARRAY[16000])::vector || '[2]';
SELECT '[2]'::vector || array_fill(1, ARRAY[16000])::vector;
SELECT ('[1]'::vector || NULL::vector) IS NULL;

--
-- comparison: element by element, then the shorter vector first
--
SELECT a, b, a < b AS lt, a <= b AS le, a = b AS eq, a <> b AS ne,
       a >= b AS ge, a > b AS gt, vector_cmp(a, b) AS cmp
FROM (VALUES
    ('[1,2,3]'::vector, '[1,2,3]'::vector),
    ('[1,2,3]', '[1,2,4]'),
    ('[1,2,4]', '[1,2,3]'),
    ('[1,2,3]', '[2]'),
    ('[2]', '[1,2,3]'),
    ('[1,2]', '[1,2,3]'),
    ('[1,2,3]', '[1,2]'),
    ('[1,2,3]', '[1,2,-10]'),
    ('[-1]', '[1]'),
    ('[0]', '[-0]'),
    ('[-0,5]', '[0,5]'),
    ('[1e-45]', '[0]'),
    ('[-3.4028235e38]', '[3.4028235e38]')
) t(a, b);
SELECT vector_lt('[1]', '[2]'), vector_le('[2]', '[2]'), vector_eq('[2]', '[2]'),
       vector_ne('[2]', '[2]'), vector_ge('[1]', '[2]'), vector_gt('[1]', '[2]');
SELECT vector_cmp('[1,2]', NULL) IS NULL, ('[1]'::vector = NULL) IS NULL;

--
-- ORDER BY, DISTINCT, GROUP BY: vectors of different lengths together
--
CREATE TABLE vector_operators_t (id int, v vector);
INSERT INTO vector_operators_t VALUES
    (1, '[1,2,3]'), (2, '[1,2]'), (3, '[1,2,4]'), (4, '[0,10]'), (5, '[1]'),
    (6, '[-1,5]'), (7, '[1,2,3,0]'), (8, '[1,2,3]'), (9, NULL), (10, '[1,2]'),
    (11, '[-0,10]'), (12, '[1e-45]');
SELECT id, v FROM vector_operators_t ORDER BY v, id;
SELECT id, v FROM vector_operators_t ORDER BY v DESC NULLS LAST, id;
SELECT DISTINCT v FROM vector_operators_t ORDER BY v;
SELECT v, count(*), array_agg(id ORDER BY id) AS ids
FROM vector_operators_t GROUP BY v ORDER BY v;
SELECT count(DISTINCT v) FROM vector_operators_t;
SELECT min(id) FILTER (WHERE v > '[1,2]'), max(id) FILTER (WHERE v <= '[0,10]')
FROM vector_operators_t;
-- a join on vector equality
SELECT a.id, b.id FROM vector_operators_t a JOIN vector_operators_t b ON a.v = b.v
WHERE a.id < b.id ORDER BY 1, 2;

--
-- btree indexes
--
CREATE INDEX vector_operators_t_v ON vector_operators_t (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vector_operators_t WHERE v = '[1,2]';
SELECT id FROM vector_operators_t WHERE v = '[1,2]' ORDER BY id;
SELECT id, v FROM vector_operators_t WHERE v > '[1,2]' AND v <= '[1,2,4]' ORDER BY v, id;
SELECT id, v FROM vector_operators_t WHERE v < '[0,10]' ORDER BY v, id;
SELECT id, v FROM vector_operators_t WHERE v >= '[1,2,3]' ORDER BY v, id;
EXPLAIN (COSTS OFF) SELECT v FROM vector_operators_t ORDER BY v;
SELECT v FROM vector_operators_t ORDER BY v;
RESET enable_seqscan;
DROP TABLE vector_operators_t;

-- UNIQUE constraint: -0 and 0 are equal, different lengths are different
CREATE TABLE vector_operators_u (v vector UNIQUE);
INSERT INTO vector_operators_u VALUES ('[1,2]'), ('[1,2,0]'), ('[0,2]'), ('[1]');
INSERT INTO vector_operators_u VALUES ('[1,2]');
INSERT INTO vector_operators_u VALUES ('[-0,2]');
INSERT INTO vector_operators_u VALUES ('[1,2,0.0]');
INSERT INTO vector_operators_u VALUES ('[1,2,1e-45]');
INSERT INTO vector_operators_u VALUES ('[1,2]') ON CONFLICT (v) DO NOTHING;
INSERT INTO vector_operators_u VALUES ('[1]') ON CONFLICT (v) DO UPDATE SET v = '[5]';
SELECT * FROM vector_operators_u ORDER BY v;
DROP TABLE vector_operators_u;

-- a typmod column with a unique index
CREATE TABLE vector_operators_u3 (id int, v vector(3));
CREATE UNIQUE INDEX ON vector_operators_u3 (v);
INSERT INTO vector_operators_u3 VALUES (1, '[1,2,3]'), (2, '[3,2,1]');
INSERT INTO vector_operators_u3 VALUES (3, '[1,2,3]');
SELECT * FROM vector_operators_u3 ORDER BY v;
DROP TABLE vector_operators_u3;
