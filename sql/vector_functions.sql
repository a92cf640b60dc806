--
-- vector_functions: distances (functions and their operators), vector_dims,
-- vector_norm, l2_normalize, subvector.
--
-- Inputs are small integers or other values whose results are exact, so
-- every SIMD variant of the distance loops gives the same bits.
--

-- a = [1,2,3], b = [4,5,6]:
--   l2 = sqrt(9+9+9) = sqrt(27), inner product = 4+10+18 = 32,
--   cosine = 1 - 32/sqrt(14*77), l1 = 3+3+3 = 9
SELECT l2_distance('[1,2,3]'::vector, '[4,5,6]'), '[1,2,3]'::vector <-> '[4,5,6]',
       sqrt(27::float8) AS expected;
SELECT inner_product('[1,2,3]'::vector, '[4,5,6]'),
       vector_negative_inner_product('[1,2,3]', '[4,5,6]'),
       '[1,2,3]'::vector <#> '[4,5,6]';
SELECT cosine_distance('[1,2,3]'::vector, '[4,5,6]'), '[1,2,3]'::vector <=> '[4,5,6]',
       1 - 32 / sqrt(14::float8 * 77) AS expected;
SELECT l1_distance('[1,2,3]'::vector, '[4,5,6]'), '[1,2,3]'::vector <+> '[4,5,6]';

-- the result type of every distance is double precision
SELECT pg_typeof('[1]'::vector <-> '[2]'), pg_typeof('[1]'::vector <#> '[2]'),
       pg_typeof('[1]'::vector <=> '[2]'), pg_typeof('[1]'::vector <+> '[2]'),
       pg_typeof(inner_product('[1]'::vector, '[2]'));

-- operators commute
SELECT '[4,5,6]'::vector <-> '[1,2,3]', '[4,5,6]'::vector <#> '[1,2,3]',
       '[4,5,6]'::vector <=> '[1,2,3]', '[4,5,6]'::vector <+> '[1,2,3]';

-- single dimension, negatives, identical vectors
SELECT '[-1]'::vector <-> '[2]', '[-1]'::vector <#> '[2]',
       '[-1]'::vector <=> '[2]', '[-1]'::vector <+> '[2]';
SELECT '[1,-2,3]'::vector <-> '[1,-2,3]', '[1,-2,3]'::vector <#> '[1,-2,3]',
       '[1,-2,3]'::vector <=> '[1,-2,3]', '[1,-2,3]'::vector <+> '[1,-2,3]';
SELECT '[-0]'::vector <-> '[0]', '[-0]'::vector <+> '[0]';

-- cosine: orthogonal 1, opposite 2, scale does not matter
SELECT '[1,0]'::vector <=> '[0,1]' AS orthogonal,
       '[1,1]'::vector <=> '[-1,-1]' AS opposite,
       '[1,2]'::vector <=> '[2,4]' AS same_direction,
       '[3,4]'::vector <=> '[4,3]' AS expected_0_04;
-- cosine with a zero vector is NaN, as in pgvector
SELECT '[0,0]'::vector <=> '[1,2]', '[1,2]'::vector <=> '[0,0]',
       '[0,0]'::vector <=> '[0,0]', cosine_distance('[0,-0]'::vector, '[1,1]');
-- l2 and inner product with a zero vector
SELECT '[3,4]'::vector <-> '[0,0]', '[3,4]'::vector <#> '[0,0]',
       '[3,4]'::vector <+> '[0,0]', inner_product('[3,4]'::vector, '[0,0]');

-- fractional and large values are computed in float4 like pgvector
SELECT '[0.5,0.25]'::vector <-> '[0.25,0.5]' AS l2,
       '[0.5,0.25]'::vector <#> '[0.25,0.5]' AS neg_ip,
       '[0.5,0.25]'::vector <+> '[0.25,0.5]' AS l1;
SELECT '[1e19]'::vector <-> '[-1e19]' AS l2_overflows_float4,
       '[2e19]'::vector <#> '[2e19]' AS ip_overflows_float4,
       '[3e38]'::vector <+> '[-3e38]' AS l1_overflows_float4;

-- longer vectors, across the unrolled lanes and the tail:
-- a = [1..100], b = [100..1]
SELECT array_agg(i)::vector AS a, array_agg(101 - i)::vector AS b
FROM generate_series(1, 100) i \gset
SELECT :'a'::vector <-> :'b' AS l2, sqrt(333300::float8) AS expected;
SELECT :'a'::vector <#> :'b' AS neg_ip, :'a'::vector <+> :'b' AS l1,
       inner_product(:'a'::vector, :'b') AS ip;
SELECT :'a'::vector <=> :'b' AS cosine,
       1 - 171700 / sqrt(338350::float8 * 338350) AS expected;
-- lengths 1..40: each result is exact, whatever the lane layout
SELECT n, l2_distance(a, b), inner_product(a, b), l1_distance(a, b),
       cosine_distance(a, b)
FROM (SELECT n, array_fill(1, ARRAY[n])::vector AS a,
             array_fill(2, ARRAY[n])::vector AS b
      FROM generate_series(1, 40) n) t
WHERE NOT (l2_distance(a, b) = sqrt(n) AND inner_product(a, b) = 2 * n AND
           l1_distance(a, b) = n AND cosine_distance(a, b) = 0);
-- 16000 dimensions
SELECT a <-> b AS l2, a <#> b AS neg_ip, a <=> b AS cosine, a <+> b AS l1
FROM (SELECT array_fill(1, ARRAY[16000])::vector AS a,
             array_fill(2, ARRAY[16000])::vector AS b) t;

-- strict: NULL in, NULL out
SELECT l2_distance(NULL::vector, '[1]') IS NULL AS l2, '[1]'::vector <#> NULL IS NULL AS ip,
       cosine_distance('[1]'::vector, NULL) IS NULL AS cos, NULL::vector <+> '[1]' IS NULL AS l1;

-- nearest neighbours by each distance, no index
CREATE TABLE vector_functions_items (id int, embedding vector(3));
INSERT INTO vector_functions_items VALUES
    (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, '[-1,0,3]'),
    (5, '[0,0,0]'), (6, NULL);
SELECT id, embedding, embedding <-> '[1,1,1]' AS l2
FROM vector_functions_items ORDER BY embedding <-> '[1,1,1]', id;
SELECT id, embedding <#> '[1,1,1]' AS neg_ip
FROM vector_functions_items ORDER BY embedding <#> '[1,1,1]', id;
SELECT id, embedding <=> '[1,1,1]' AS cosine
FROM vector_functions_items ORDER BY embedding <=> '[1,1,1]', id;
SELECT id, embedding <+> '[1,1,1]' AS l1
FROM vector_functions_items ORDER BY embedding <+> '[1,1,1]', id LIMIT 3;
DROP TABLE vector_functions_items;

--
-- vector_dims, vector_norm, l2_normalize
--
SELECT vector_dims('[1,2,3]'::vector), vector_dims('[0]'::vector),
       vector_dims(array_fill(0, ARRAY[16000])::vector);
SELECT vector_norm('[3,4]'::vector), vector_norm('[-3,-4]'::vector), vector_norm('[0,0]'::vector),
       vector_norm('[1,1]'::vector), vector_norm('[-0]'::vector);
-- accumulated in double precision: no overflow, no underflow
SELECT vector_norm('[3e38,3e38]'::vector), vector_norm('[1e-30,1e-30]'::vector),
       vector_norm('[1e-45]'::vector), vector_norm('[3e38,1e-45]'::vector);
SELECT vector_norm(array_fill(1, ARRAY[16000])::vector), sqrt(16000::float8);
SELECT pg_typeof(vector_norm('[1]'::vector)), pg_typeof(vector_dims('[1]'::vector));

SELECT l2_normalize('[3,4]'::vector), l2_normalize('[-3,0,4]'::vector), l2_normalize('[5]'::vector),
       l2_normalize('[-5]'::vector);
SELECT l2_normalize('[1,1,1,1]'::vector), l2_normalize('[1,1]'::vector);
-- the zero vector stays zero (and -0 becomes 0)
SELECT l2_normalize('[0,0,0]'::vector), l2_normalize('[-0,0]'::vector);
-- extremes: the norm is taken in double precision
SELECT l2_normalize('[3e38,3e38]'::vector), l2_normalize('[1e-45]'::vector),
       l2_normalize('[1e-45,-1e-45,0]'::vector), l2_normalize('[3e38,1e-45]'::vector);
-- every element of a long constant vector becomes 1/sqrt(16000) in float4
SELECT count(*) AS dims, count(DISTINCT e) AS different_values, min(e),
       min(e) = (1 / sqrt(16000::float8))::real AS ok
FROM unnest(l2_normalize(array_fill(2, ARRAY[16000])::vector)::real[]) e;

--
-- subvector(v, start, count): 1-based, clipped like substring()
--
SELECT subvector('[1,2,3,4,5]'::vector, 1, 3), subvector('[1,2,3,4,5]'::vector, 3, 2),
       subvector('[1,2,3,4,5]'::vector, 5, 1), subvector('[1,2,3,4,5]'::vector, 1, 5);
-- clipped at the end
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9), subvector('[1,2,3,4,5]'::vector, 5, 2),
       subvector('[1,2,3,4,5]'::vector, 2, 2147483647), subvector('[1,2,3,4,5]'::vector, 1, 2147483647);
-- clipped at the start
SELECT subvector('[1,2,3,4,5]'::vector, 0, 2), subvector('[1,2,3,4,5]'::vector, -1, 3),
       subvector('[1,2,3,4,5]'::vector, -2147483645, 2147483647),
       subvector('[1,2,3,4,5]'::vector, -100, 2147483647);
-- nothing left
SELECT subvector('[1,2,3,4,5]'::vector, 0, 1);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483646, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483647, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483648, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 100, 5);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 3, -1);
SELECT subvector('[1,2,3,4,5]'::vector, 1, -2147483648);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483648, -2147483648);
SELECT subvector(NULL::vector, 1, 1) IS NULL, subvector('[1]'::vector, NULL, 1) IS NULL,
       subvector('[1]'::vector, 1, NULL) IS NULL;
-- of a long vector; the result keeps the elements' bits
SELECT subvector(array_agg(i)::vector, 15998, 10) FROM generate_series(1, 16000) i;
SELECT subvector('[-0,1e-45,3.4028235e38,0.1]'::vector, 1, 4);
SELECT vector_dims(subvector(array_fill(1, ARRAY[16000])::vector, 2, 15999));
