--
-- halfvec: pgvector's half-precision vector type: input and output, type
-- modifier, binary form, casts, functions, operators, aggregates and the
-- btree operator class, with pgvector's messages.
--

-- text form: elements rounded to the nearest half, printed as float4 does
SELECT '[1,2,3]'::halfvec;
SELECT ' [ 1.5 , -2.25 , 1e-3 ] '::halfvec;
SELECT '[0.1,65504,-65504,65519.99]'::halfvec;	-- 65519.99 rounds to 65504
SELECT '[6e-8,5.96e-8,2e-8,1e-10,-0]'::halfvec;	-- subnormals, underflow to zero
SELECT '[65520]'::halfvec;		-- rounds to infinity: out of range
SELECT '[-1e5]'::halfvec;
SELECT '[1e39]'::halfvec;		-- overflows float4 already
SELECT '[NaN]'::halfvec;
SELECT '[Infinity]'::halfvec;
SELECT '[-inf]'::halfvec;
SELECT '[]'::halfvec;
SELECT ''::halfvec;
SELECT '['::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[1 2]'::halfvec;
SELECT '[1,2] x'::halfvec;
SELECT '[1a]'::halfvec;
SELECT '[1,65520,NaN]'::halfvec;	-- the first fault is reported
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::halfvec = array_fill(1, ARRAY[16000])::halfvec;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::halfvec;

-- type modifier
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2]'::halfvec(3);
SELECT '[1,2,3]'::halfvec(0);
SELECT '[1,2,3]'::halfvec(16001);
SELECT '[1,2,3]'::halfvec(3, 2);
CREATE TABLE halfvec_typmod (v halfvec(2));
INSERT INTO halfvec_typmod VALUES ('[1,2]');
INSERT INTO halfvec_typmod VALUES ('[1,2,3]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'halfvec_typmod'::regclass AND attname = 'v';
DROP TABLE halfvec_typmod;

-- binary form: int16 dim, int16 unused, fp16 values, network order
SELECT halfvec_send('[1,-2,0.5]');
SELECT halfvec_send('[65504,6e-8]');
SELECT typsend, typreceive, typstorage FROM pg_type WHERE typname = 'halfvec';
-- round trip through binary COPY
CREATE TABLE halfvec_copy (v halfvec);
INSERT INTO halfvec_copy VALUES ('[1,2,3]'), ('[-0.000123,65504,0]'), ('[0.1]');
COPY halfvec_copy TO '/tmp/hybridsearch_halfvec_copy.bin' WITH (FORMAT binary);
CREATE TABLE halfvec_copy2 (v halfvec);
COPY halfvec_copy2 FROM '/tmp/hybridsearch_halfvec_copy.bin' WITH (FORMAT binary);
SELECT a.v, a.v::text = b.v::text AS same FROM halfvec_copy a JOIN halfvec_copy2 b ON a.v = b.v;
CREATE TABLE halfvec_copy3 (v halfvec(3));
COPY halfvec_copy3 FROM '/tmp/hybridsearch_halfvec_copy.bin' WITH (FORMAT binary);
DROP TABLE halfvec_copy, halfvec_copy2, halfvec_copy3;

-- casts
SELECT '[1,2,3]'::vector::halfvec;
SELECT '[0.1,0.2]'::vector::halfvec::vector;		-- rounded to half
SELECT '[70000]'::vector::halfvec;
SELECT '[1,2]'::vector::halfvec(3);
SELECT '[1.5,2]'::halfvec::vector(2);
SELECT '[1.5,2]'::halfvec::real[];
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2.5]::real[]::halfvec,
       ARRAY[1.5,2.5]::double precision[]::halfvec, ARRAY[1.5,2.5]::numeric[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(2);
SELECT ARRAY[[1,2],[3,4]]::halfvec;
SELECT ARRAY[1,NULL]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT ARRAY[1e5]::real[]::halfvec;
SELECT ARRAY['NaN'::real, 1e5]::halfvec;			-- all are rounded before any is checked
SELECT ARRAY['NaN']::real[]::halfvec;
SELECT ARRAY['Infinity']::double precision[]::halfvec;
-- implicit vector -> halfvec in an assignment and in a comparison
CREATE TABLE halfvec_assign (v halfvec(2));
INSERT INTO halfvec_assign VALUES ('[1,2]'::vector);
SELECT * FROM halfvec_assign;
DROP TABLE halfvec_assign;

-- distances
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), '[0,0]'::halfvec <-> '[3,4]';
SELECT l2_distance('[1,2]'::halfvec, '[3]');
SELECT inner_product('[1,2]'::halfvec, '[3,4]'), '[1,2]'::halfvec <#> '[3,4]';
SELECT inner_product('[65504]'::halfvec, '[65504]');
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]'), '[1,2]'::halfvec <=> '[2,4]';
SELECT cosine_distance('[1,2]'::halfvec, '[0,0]');
SELECT cosine_distance('[1,1]'::halfvec, '[-1,-1]'), cosine_distance('[1,0]'::halfvec, '[0,2]');
SELECT cosine_distance('[1,2]'::halfvec, '[3]');
SELECT l1_distance('[0,0]'::halfvec, '[3,4]'), '[0,0]'::halfvec <+> '[3,4]';
SELECT l1_distance('[1,2]'::halfvec, '[3]');
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]');
SELECT halfvec_negative_inner_product('[1,2]', '[3,4]');
SELECT halfvec_spherical_distance('[1,0]', '[0,1]'), halfvec_spherical_distance('[1,0]', '[-1,0]');
-- the same values as vector's operators on the same (exactly representable) elements
SELECT count(*) FILTER (WHERE h <-> q = v <-> q::vector AND h <#> q = v <#> q::vector
                        AND h <=> q = v <=> q::vector AND h <+> q = v <+> q::vector) AS same,
       count(*) AS total
FROM (SELECT ('[' || i % 7 || ',' || -i % 5 || ',0.5,' || i || ']')::halfvec AS h,
             ('[' || i % 7 || ',' || -i % 5 || ',0.5,' || i || ']')::vector AS v,
             '[1,-2,0.25,3]'::halfvec AS q
      FROM generate_series(1, 100) i) t;

-- functions
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec), round(l2_norm('[1,1]'::halfvec)::numeric, 5);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec), l2_normalize('[65504,65504]'::halfvec);
SELECT binary_quantize('[1,0,-1]'::halfvec);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 2),
       subvector('[1,2,3,4,5]'::halfvec, -1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 9);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, -1);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 2);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2147483647, 2147483647);

-- arithmetic, rounded to half
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[0.1]'::halfvec + '[0.2]';
SELECT '[65504]'::halfvec + '[65504]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[65504]'::halfvec * '[2]';
SELECT '[1e-4]'::halfvec * '[1e-4]';		-- underflows to zero
SELECT '[1,2]'::halfvec + '[3]';
SELECT '[1,2]'::halfvec || '[3,4]';
SELECT array_fill(1, ARRAY[16000])::halfvec || '[1]'::halfvec;

-- comparison: element by element, then the shorter first
SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2]'::halfvec < '[1,2,3]', '[2]'::halfvec > '[1,9]',
       '[1,2]'::halfvec = '[1,2]', '[1,2]'::halfvec <> '[1,2.001]', '[1,2]'::halfvec <= '[1,2]',
       '[1,2]'::halfvec >= '[1,3]';
SELECT halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1]', '[1,2]'), halfvec_cmp('[3]', '[1,2]');
CREATE TABLE halfvec_btree (v halfvec);
INSERT INTO halfvec_btree VALUES ('[1,2,3]'), ('[1,2]'), ('[0.5,9]'), ('[1,2,3]'), ('[-1]'), ('[1,-2]');
CREATE INDEX ON halfvec_btree (v);
SET enable_seqscan = off;
SELECT v FROM halfvec_btree ORDER BY v;
SELECT v FROM halfvec_btree WHERE v = '[1,2,3]';
RESET enable_seqscan;
SELECT DISTINCT v FROM halfvec_btree ORDER BY v;
DROP TABLE halfvec_btree;

-- aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]')) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1]'::halfvec)) t(v) WHERE false;
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[3]')) t(v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);	-- the mean fits
-- parallel aggregation combines the workers' states with vector_combine
CREATE TABLE halfvec_parallel AS
SELECT ('[' || i % 10 || ',' || i % 3 || ']')::halfvec AS v FROM generate_series(1, 30000) i;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT avg(v) FROM halfvec_parallel;
SELECT avg(v) FROM halfvec_parallel;	-- exact: integer sums in double precision
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE halfvec_parallel;
SELECT halfvec_avg('{2,2,4}'), halfvec_avg('{0}'), halfvec_accum('{0}', '[1,2]');
SELECT halfvec_avg('{1,1e6}');
SELECT halfvec_accum('{1,2}', '[1,2]');
SELECT halfvec_accum('{}', '[1,2]');
-- every finite half value (normal and subnormal, both signs) reads back
-- exactly as float4 through the halfvec to vector cast (19 to a vector, so
-- the vectorised conversion's 8-wide loop and its tail both run)
WITH halves AS (
	SELECT row_number() OVER () AS n, sign * v AS x
	FROM (SELECT (2.0 ^ (e - 15) * (1 + m / 1024.0))::float8 AS v
		  FROM generate_series(1, 30) e, generate_series(0, 1023) m
		  UNION ALL
		  SELECT 2.0 ^ -24 * m FROM generate_series(0, 1023) m) h,
		 (VALUES (1), (-1)) s(sign)),
vectors AS (SELECT array_agg(x::real ORDER BY n) AS a FROM halves GROUP BY n / 19)
SELECT count(*) AS vectors, sum(array_length(a, 1)) AS values,
	count(*) FILTER (WHERE a::halfvec::vector::real[] <> a) AS differing
FROM vectors;
