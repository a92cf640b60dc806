--
-- sparsevec: pgvector's sparse vector type: text form {index:value,...}/dim
-- with 1-based indices, limits, type modifier, binary form (0-based
-- indices), casts, functions, operators and the btree operator class.
--

-- text form
SELECT '{1:1.5,3:3.5}/5'::sparsevec;
SELECT ' { 1 : 1.5 ,  3  :  3.5  } / 5 '::sparsevec;
SELECT '{3:3,1:1}/5'::sparsevec;			-- sorted on input
SELECT '{1:0,2:1,3:0}/3'::sparsevec;		-- zeros are not stored
SELECT '{}/5'::sparsevec, ' { } / 5'::sparsevec;
SELECT '{1:1e-45,2:-0}/2'::sparsevec;		-- a float4 subnormal is kept, -0 is zero
SELECT ''::sparsevec;
SELECT '{'::sparsevec;
SELECT '{}'::sparsevec;
SELECT '{}/'::sparsevec;
SELECT '{}/1a'::sparsevec;
SELECT '{,}/1'::sparsevec;
SELECT '{1,}/1'::sparsevec;
SELECT '{:1}/1'::sparsevec;
SELECT '{1:}/1'::sparsevec;
SELECT '{1a:1}/1'::sparsevec;
SELECT '{1:1a}/1'::sparsevec;
SELECT '{1:1,}/1'::sparsevec;
SELECT '{1:1 2:2}/2'::sparsevec;
SELECT '{1:1,1:2}/2'::sparsevec;
SELECT '{0:1}/1'::sparsevec;
SELECT '{2:1}/1'::sparsevec;
SELECT '{-2147483649:1}/1'::sparsevec;
SELECT '{99999999999:1}/1'::sparsevec;
SELECT '{1:1e39}/1'::sparsevec;
SELECT '{1:1e-50}/1'::sparsevec;			-- underflow is out of range too
SELECT '{1:NaN}/1'::sparsevec;
SELECT '{1:-Infinity}/1'::sparsevec;
SELECT '{}/0'::sparsevec;
SELECT '{}/-1'::sparsevec;
SELECT '{}/1000000000'::sparsevec;
SELECT '{}/1000000001'::sparsevec;
SELECT '{}/99999999999'::sparsevec;
SELECT '{1000000000:7}/1000000000'::sparsevec;
-- at most 16000 elements (counted from the commas, before anything else)
SELECT ('{' || string_agg(i || ':1', ',') || '}/16000')::sparsevec = array_fill(1, ARRAY[16000])::sparsevec
FROM generate_series(1, 16000) i;
SELECT ('{' || string_agg(i || ':1', ',') || '}/16001')::sparsevec FROM generate_series(1, 16001) i;
SELECT ('x' || repeat(',', 16000))::sparsevec;

-- type modifier
SELECT '{1:1}/3'::sparsevec(3);
SELECT '{1:1}/3'::sparsevec(2);
SELECT '{}/3'::sparsevec(0);
SELECT '{}/3'::sparsevec(1000000001);
SELECT '{}/3'::sparsevec(3, 2);
CREATE TABLE sparsevec_typmod (v sparsevec(3));
INSERT INTO sparsevec_typmod VALUES ('{1:1}/3');
INSERT INTO sparsevec_typmod VALUES ('{1:1}/4');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'sparsevec_typmod'::regclass AND attname = 'v';
DROP TABLE sparsevec_typmod;

-- binary form: int32 dim, nnz, unused, 0-based indices, float4 values
SELECT sparsevec_send('{1:1.5,3:-2}/5');
SELECT sparsevec_send('{}/7');
SELECT typsend, typreceive, typstorage FROM pg_type WHERE typname = 'sparsevec';
CREATE TABLE sparsevec_copy (v sparsevec);
INSERT INTO sparsevec_copy VALUES ('{1:1.5,3:-2}/5'), ('{}/7'), ('{1000000000:0.1}/1000000000');
COPY sparsevec_copy TO '/tmp/hybridsearch_sparsevec_copy.bin' WITH (FORMAT binary);
CREATE TABLE sparsevec_copy2 (v sparsevec);
COPY sparsevec_copy2 FROM '/tmp/hybridsearch_sparsevec_copy.bin' WITH (FORMAT binary);
SELECT a.v, a.v::text = b.v::text AS same FROM sparsevec_copy a JOIN sparsevec_copy2 b ON a.v = b.v;
CREATE TABLE sparsevec_copy3 (v sparsevec(5));
COPY sparsevec_copy3 FROM '/tmp/hybridsearch_sparsevec_copy.bin' WITH (FORMAT binary);
DROP TABLE sparsevec_copy, sparsevec_copy2, sparsevec_copy3;

-- casts
SELECT '[0,1.5,0,-2]'::vector::sparsevec, '[0,0]'::vector::sparsevec;
SELECT '{2:1.5,4:-2}/4'::sparsevec::vector;
SELECT '[0,1.5,0,-2]'::halfvec::sparsevec;
SELECT '{2:1.5,4:-2}/4'::sparsevec::halfvec;
SELECT '{2:0.1}/2'::sparsevec::halfvec;
SELECT '{2:70000}/2'::sparsevec::halfvec;
SELECT '{1:1}/16001'::sparsevec::vector;
SELECT '{1:1}/16001'::sparsevec::halfvec;
SELECT '{1:1}/3'::sparsevec::vector(2);
SELECT '[1,2]'::vector::sparsevec(3);
SELECT ARRAY[0,1,0,2]::sparsevec, ARRAY[0,1.5]::real[]::sparsevec,
       ARRAY[0,1.5]::double precision[]::sparsevec, ARRAY[0,1.5]::numeric[]::sparsevec;
SELECT ARRAY[1,2]::sparsevec(3);
SELECT ARRAY[[1,2]]::sparsevec;
SELECT ARRAY[1,NULL]::sparsevec;
SELECT '{}'::real[]::sparsevec;
SELECT ARRAY['NaN']::real[]::sparsevec;
SELECT ARRAY['-Infinity']::real[]::sparsevec;
CREATE TABLE sparsevec_assign (v sparsevec(3));
INSERT INTO sparsevec_assign VALUES ('[0,2,0]'::vector), ('[1,0,0]'::halfvec);
SELECT * FROM sparsevec_assign;
DROP TABLE sparsevec_assign;

-- distances
SELECT l2_distance('{}/2'::sparsevec, '{1:3,2:4}/2'), '{}/2'::sparsevec <-> '{1:3,2:4}/2';
SELECT l2_distance('{1:1,3:1}/3'::sparsevec, '{2:1,3:3}/3');
SELECT l2_distance('{1:1}/2'::sparsevec, '{1:1}/3');
SELECT inner_product('{1:1,2:2}/2'::sparsevec, '{1:3,2:4}/2'), '{1:1,2:2}/2'::sparsevec <#> '{1:3,2:4}/2';
SELECT inner_product('{1:1,3:2}/3'::sparsevec, '{2:5}/3');
SELECT inner_product('{1:1}/2'::sparsevec, '{1:1}/3');
SELECT cosine_distance('{1:1,2:2}/2'::sparsevec, '{1:2,2:4}/2'), '{1:1,2:2}/2'::sparsevec <=> '{1:2,2:4}/2';
SELECT cosine_distance('{1:1}/2'::sparsevec, '{}/2');
SELECT cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:-1,2:-1}/2'), cosine_distance('{1:1}/2'::sparsevec, '{2:2}/2');
SELECT cosine_distance('{1:1}/2'::sparsevec, '{1:1}/3');
SELECT l1_distance('{}/2'::sparsevec, '{1:3,2:4}/2'), '{}/2'::sparsevec <+> '{1:3,2:4}/2';
SELECT l1_distance('{1:1,3:1}/3'::sparsevec, '{2:1,3:3}/3');
SELECT l1_distance('{1:1}/2'::sparsevec, '{1:1}/3');
SELECT sparsevec_l2_squared_distance('{}/2', '{1:3,2:4}/2'), sparsevec_negative_inner_product('{1:1,2:2}/2', '{1:3,2:4}/2');
-- the same values as vector's operators on the same vectors
SELECT count(*) FILTER (WHERE s <-> q = v <-> q::vector AND s <#> q = v <#> q::vector
                        AND s <=> q = v <=> q::vector AND s <+> q = v <+> q::vector) AS same,
       count(*) AS total
FROM (SELECT ('[' || i % 3 || ',0,' || -i % 5 || ',0.5,0,' || i % 2 || ']')::vector AS v,
             ('[' || i % 3 || ',0,' || -i % 5 || ',0.5,0,' || i % 2 || ']')::vector::sparsevec AS s,
             '{1:1,3:-2,4:0.25,6:3}/6'::sparsevec AS q
      FROM generate_series(1, 100) i) t;

-- functions
SELECT l2_norm('{1:3,2:4}/2'::sparsevec), l2_norm('{}/2'::sparsevec);
SELECT l2_normalize('{1:3,2:4}/2'::sparsevec), l2_normalize('{}/2'::sparsevec);
SELECT l2_normalize('{1:3e38,2:3e38}/2'::sparsevec);
SELECT l2_normalize('{1:1e38,2:1e-45}/2'::sparsevec);	-- an element that underflows is dropped

-- comparison: the order of the dense vectors, then length
SELECT '{1:1}/3'::sparsevec < '{2:1}/3', '{2:-1}/3'::sparsevec < '{}/3', '{}/3'::sparsevec < '{}/4',
       '{1:1,2:2}/2'::sparsevec = '[1,2]'::vector::sparsevec, '{1:1}/2'::sparsevec <> '{1:1}/3',
       '{1:2}/2'::sparsevec >= '{1:1,2:5}/2', '{1:1}/2'::sparsevec <= '{1:1}/2', '{3:1}/3'::sparsevec > '{1:-1}/3';
SELECT sparsevec_cmp('{1:1}/2', '{1:1}/2'), sparsevec_cmp('{1:1}/2', '{1:1}/3'), sparsevec_cmp('{2:5}/3', '{1:1}/3');
CREATE TABLE sparsevec_btree (v sparsevec);
INSERT INTO sparsevec_btree VALUES ('{1:1}/3'), ('{}/3'), ('{2:-1}/3'), ('{1:1,3:1}/3'), ('{}/2'), ('{1:1}/3'), ('{1:-1}/2');
CREATE INDEX ON sparsevec_btree (v);
SET enable_seqscan = off;
SELECT v, v::vector AS dense FROM sparsevec_btree ORDER BY v;
SELECT v FROM sparsevec_btree WHERE v = '{1:1}/3';
RESET enable_seqscan;
DROP TABLE sparsevec_btree;
