--
-- vector_casts: integer[], real[], double precision[], numeric[] to vector
-- (assignment casts, with or without a typmod), vector to real[] (implicit)
-- and vector to vector(n).
--

SELECT '{1,2,3}'::int[]::vector, ARRAY[1,2,3]::vector;
SELECT '{1,2.5,-3e-2}'::real[]::vector, ARRAY[1.5::real, -0.25::real]::vector;
SELECT '{1,2.5,-3e-2}'::float8[]::vector, ARRAY[0.1::float8]::vector;
SELECT '{1,2.5,-3e-2}'::numeric[]::vector, ARRAY[1.5, 2.25]::vector;
SELECT '{-2147483648,2147483647,16777217}'::int[]::vector;	-- rounded to float4
-- (numeric has no negative zero)
SELECT '{-0}'::real[]::vector, '{-0}'::float8[]::vector, '{-0}'::numeric[]::vector;
SELECT '{0.1,0.30000000000000004,1.00000005}'::float8[]::vector;
SELECT '{0.1,0.30000000000000004,1.00000005}'::numeric[]::vector;
-- numeric is rounded to float4 once, as float4 input does; going through
-- float8 rounds twice: 1 + 2^-24 + 1e-30 is just above the midpoint between
-- the float4 values 1 and 1 + 2^-23, and exactly the midpoint in float8
SELECT '{1.000000059604644775390625000001}'::numeric[]::vector AS from_numeric,
       '{1.000000059604644775390625000001}'::real[]::vector AS from_real,
       '{1.000000059604644775390625000001}'::float8[]::vector AS from_float8;
SELECT '{3.4028235e38,1e-45,1e-50}'::float8[]::vector;
SELECT '{3.4028235e38,1e-45}'::real[]::vector;
-- an array's lower bound does not matter
SELECT '[0:2]={1,2,3}'::int[]::vector, '[-5:-5]={7}'::float8[]::vector;
-- 16000 elements
SELECT vector_dims(array_fill(1.5::float8, ARRAY[16000])::vector),
       vector_dims(array_fill(1::numeric, ARRAY[16000])::vector(16000));
-- with a typmod
SELECT '{1,2,3}'::int[]::vector(3), '{1,2,3}'::real[]::vector(3),
       '{1,2,3}'::float8[]::vector(3), '{1,2,3}'::numeric[]::vector(3);
SELECT '{1,2}'::int[]::vector(3);
SELECT '{1,2}'::real[]::vector(3);
SELECT '{1,2,3,4}'::float8[]::vector(3);
SELECT '{1,2}'::numeric[]::vector(3);
SELECT ARRAY[1,2,3]::vector(2);
SELECT CAST(ARRAY[1,2] AS vector(2)), CAST('{1,2}'::real[] AS vector);
-- NULL array
SELECT NULL::int[]::vector IS NULL, NULL::real[]::vector(3) IS NULL;

-- assignment casts: INSERT and UPDATE take arrays, with the column's typmod
CREATE TABLE vector_casts_t (id int, v vector(3));
INSERT INTO vector_casts_t VALUES (1, '{1,2,3}'::int[]), (2, '{1.5,2.5,3.5}'::real[]),
    (3, '{0.1,0.2,0.3}'::float8[]), (4, '{4,5,6}'::numeric[]), (5, ARRAY[7,8,9]);
UPDATE vector_casts_t SET v = ARRAY[1,1,1] WHERE id = 5;
INSERT INTO vector_casts_t VALUES (6, ARRAY[1,2]);
UPDATE vector_casts_t SET v = ARRAY[1,2] WHERE id = 5;
SELECT * FROM vector_casts_t ORDER BY id;
-- but arrays are not vectors in expressions (no implicit cast)
SELECT id FROM vector_casts_t WHERE v = ARRAY[1,2,3];
SELECT vector_dims(ARRAY[1,2,3]);
SELECT id FROM vector_casts_t WHERE v = ARRAY[1,2,3]::vector;
DROP TABLE vector_casts_t;

--
-- errors
--
SELECT '{{1,2},{3,4}}'::int[]::vector;
SELECT '{{1,2},{3,4}}'::real[]::vector;
SELECT '{{1.5}}'::float8[]::vector;
SELECT '{{{1}}}'::numeric[]::vector;
SELECT '{1,NULL,3}'::int[]::vector;
SELECT '{NULL}'::real[]::vector;
SELECT ARRAY[1.5, NULL]::float8[]::vector;
SELECT '{1,NULL}'::numeric[]::vector;
SELECT '{}'::int[]::vector;
SELECT '{}'::real[]::vector;
SELECT '{}'::float8[]::vector;
SELECT '{}'::numeric[]::vector;
SELECT '{}'::int[]::vector(3);
SELECT '{NaN}'::real[]::vector;
SELECT '{1,NaN}'::float8[]::vector;
SELECT '{NaN}'::numeric[]::vector;
SELECT '{Infinity}'::real[]::vector;
SELECT '{-Infinity}'::float8[]::vector;
SELECT '{Infinity}'::numeric[]::vector;
SELECT '{-Infinity}'::numeric[]::vector;
-- finite in double precision but too large for float4
SELECT '{1e39}'::float8[]::vector;
SELECT '{-1e39}'::float8[]::vector;
SELECT '{1e39}'::numeric[]::vector;
-- too many elements, with and without a typmod
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT array_fill(1::real, ARRAY[16001])::vector;
SELECT array_fill(1::float8, ARRAY[16001])::vector(3);
SELECT array_fill(1::numeric, ARRAY[16001])::vector;
-- other array types have no cast
SELECT '{1,2}'::bigint[]::vector;
SELECT '{1,2}'::smallint[]::vector;
SELECT '{1,2}'::text[]::vector;

--
-- vector to real[]
--
SELECT '[1,2,3]'::vector::real[], '[1.5,-0.25,-0]'::vector::real[];
SELECT '[3.4028235e38,1e-45,0.1]'::vector::real[];
SELECT pg_typeof('[1]'::vector::real[]), array_ndims('[1,2]'::vector::real[]),
       array_lower('[1,2]'::vector::real[], 1), array_upper('[1,2]'::vector::real[], 1);
SELECT array_length(array_fill(1, ARRAY[16000])::vector::real[], 1);
SELECT ('[1,2,3]'::vector::real[])[2], ('[1,2,3]'::vector::real[])[4] IS NULL;
SELECT '[1,2,3]'::vector::real[] = '{1,2,3}'::real[];
SELECT NULL::vector::real[] IS NULL;
-- the cast is implicit: a vector goes where a real[] is expected ...
CREATE FUNCTION vector_casts_sum(a real[]) RETURNS real
    AS 'SELECT sum(x) FROM unnest(a) x' LANGUAGE sql;
SELECT vector_casts_sum('[1,2,3.5]'::vector);
DROP FUNCTION vector_casts_sum(real[]);
CREATE TABLE vector_casts_r (a real[]);
INSERT INTO vector_casts_r VALUES ('[1,2.5]'::vector);
SELECT a, pg_typeof(a) FROM vector_casts_r;
DROP TABLE vector_casts_r;
-- ... but not for polymorphic (anyarray) functions or array operators
SELECT array_length('[1,2,3]'::vector, 1);
SELECT '[1,2,3]'::vector = '{1,2,3}'::real[];
-- and to other array types through real[]
SELECT '[1.5,2.5]'::vector::real[]::float8[], '[1.5,2.5]'::vector::real[]::int[];
-- round trips
SELECT v, v::real[]::vector = v AS same, vector_send(v::real[]::vector) = vector_send(v) AS same_bits
FROM (VALUES ('[1,2,3]'::vector), ('[0.1,-0,1e-45]'), ('[3.4028235e38,-3.4028235e38]')) t(v);
SELECT a, a::vector::real[] = a AS same
FROM (VALUES ('{1,2,3}'::real[]), ('{0.1,-0,1e-45}')) t(a);

--
-- vector to vector(n): checks the length, never truncates or pads
--
SELECT '[1,2,3]'::vector::vector(3), CAST('[1,2,3]'::vector(3) AS vector);
SELECT '[1,2,3]'::vector::vector(2);
SELECT '[1,2,3]'::vector::vector(4);
SELECT '[1,2,3]'::vector(3)::vector(4);
SELECT vector('[1,2,3]'::vector, 3, true), vector('[1,2,3]'::vector, -1, false);
SELECT vector('[1,2,3]'::vector, 2, false);
