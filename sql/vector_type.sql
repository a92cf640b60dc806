--
-- vector_type: the vector type itself: text input and output, the type
-- modifier vector(n), catalog properties.  Input errors are in vector_errors.
--

-- text output is the shortest text that reads back to the same float4
SELECT '[1,2,3]'::vector;
SELECT '[1,2.5,-3e-2]'::vector;
SELECT '[0.1,0.2,0.3]'::vector;
SELECT '[1.5e3,-2e-3,1e10,123456789]'::vector;
SELECT '[1.0000001,1.00000001,16777217]'::vector;	-- float4 rounding
SELECT '[+1,-1,.5,5.,1E2,1e+2]'::vector;
SELECT '[0x10,0x1p-2]'::vector;	-- strtof accepts hexadecimal, as in pgvector

-- spaces (any of " \t\n\r\v\f") around elements and brackets
SELECT ' [ 1 , 2 , 3 ] '::vector;
SELECT ascii(c), (c || '[' || c || '1' || c || ',' || c || '2' || c || ']' || c)::vector
FROM unnest(ARRAY[' ', E'\t', E'\n', E'\r', chr(11), E'\f']) c;	-- chr(11) is \v
SELECT '[1  ,2]'::vector, '[  1,2]'::vector, '[1,2  ]'::vector;

-- zero, negative zero, extremes of float4
SELECT '[0,-0,-0.0]'::vector;
SELECT '[3.4028235e38,-3.4028235e38]'::vector;	-- FLT_MAX
SELECT '[1.17549435e-38]'::vector;			-- FLT_MIN
SELECT '[1e-40,1.4e-45,-1e-45]'::vector;		-- subnormals
SELECT '[1e-46,-1e-46,1e-50]'::vector;		-- underflow to (signed) zero
SELECT '[0.00000000000000000000000000000000000000000000000001]'::vector;

-- output reads back to the same bits
SELECT v, v::text::vector = v AS same,
       vector_send(v::text::vector) = vector_send(v) AS same_bits
FROM (VALUES ('[0.1,0.2,0.3]'::vector), ('[3.4028235e38]'), ('[1e-45]'),
             ('[-0]'), ('[0.33333334,2.7182817,3.1415927]')) t(v);

-- NULL
SELECT NULL::vector, NULL::vector IS NULL AS is_null;

-- arrays of vectors; the element typmod applies to every element
SELECT '{"[1,2,3]","[4,5,6]"}'::vector[], unnest('{"[1,2,3]", " [4 , 5,6] "}'::vector[]);
SELECT '{"[1,2,3]",NULL}'::vector(3)[];
SELECT '{"[1,2,3]","[4,5]"}'::vector(3)[];
SELECT ARRAY['[1,2]'::vector, '[3]'::vector], pg_typeof(ARRAY['[1]'::vector]);

-- 16000 dimensions are accepted (16001 is an error, see vector_errors)
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector);
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector(16000));
SELECT length(('[' || repeat('1.5,', 15999) || '-0.25]')::vector::text),
       ('[' || repeat('1.5,', 15999) || '-0.25]')::vector::text
         = '[' || repeat('1.5,', 15999) || '-0.25]' AS round_trip;

--
-- type modifier
--
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3,4]'::vector(3);
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2]'::vector::vector(3);
SELECT '[1]'::vector(1), '[1,2]'::vector(2)::vector;
SELECT '[1,2]'::vector(16000);
SELECT '[1,2]'::vector(0);
SELECT '[1,2]'::vector(-1);
SELECT '[1,2]'::vector(16001);
SELECT '[1,2]'::vector(1,2);
CREATE TABLE vector_type_bad (v vector(0));
CREATE TABLE vector_type_bad (v vector(16001));
CREATE TABLE vector_type_bad (v vector(2,2));
SELECT format_type('vector'::regtype, 3), format_type('vector'::regtype, -1),
       format_type('vector'::regtype, 16000);

CREATE TABLE vector_type_t (id int, v vector(3), w vector);
\d vector_type_t
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'vector_type_t'::regclass AND attnum > 0 ORDER BY attnum;
INSERT INTO vector_type_t VALUES (1, '[1,2,3]', '[1]');
INSERT INTO vector_type_t VALUES (2, '[1,2]', '[1]');
INSERT INTO vector_type_t VALUES (3, '[1,2,3,4]'::vector, '[1]');
INSERT INTO vector_type_t VALUES (4, '{1,2}'::real[], '[1]');
INSERT INTO vector_type_t VALUES (5, '[4,5,6]'::vector(3), '[1,2,3,4,5]');
INSERT INTO vector_type_t VALUES (6, NULL, NULL);
INSERT INTO vector_type_t VALUES (7, '{7,8,9}'::int[], '{1.5,2.5}'::float8[]);
UPDATE vector_type_t SET v = '[1,2]' WHERE id = 1;
UPDATE vector_type_t SET v = v || '[1]'::vector WHERE id = 1;
UPDATE vector_type_t SET v = subvector(v || '[1]'::vector, 2, 3) WHERE id = 1;
SELECT * FROM vector_type_t ORDER BY id;
-- changing the type modifier checks every row
ALTER TABLE vector_type_t ALTER COLUMN v TYPE vector(2);
ALTER TABLE vector_type_t ALTER COLUMN w TYPE vector(1);
DELETE FROM vector_type_t WHERE id <> 1;
ALTER TABLE vector_type_t ALTER COLUMN w TYPE vector(1);
ALTER TABLE vector_type_t ALTER COLUMN v TYPE vector;
INSERT INTO vector_type_t VALUES (8, '[1,2,3,4]', '[2]');
SELECT * FROM vector_type_t ORDER BY id;
\d vector_type_t
DROP TABLE vector_type_t;

-- a typmod also applies to function results assigned to a column
CREATE TABLE vector_type_t2 (v vector(2));
INSERT INTO vector_type_t2 SELECT subvector('[1,2,3]'::vector, 1, 2);
INSERT INTO vector_type_t2 SELECT subvector('[1,2,3]'::vector, 1, 3);
SELECT * FROM vector_type_t2;
DROP TABLE vector_type_t2;

--
-- catalog
--
SELECT typname, typlen, typbyval, typalign, typstorage, typcategory,
       typinput, typoutput, typreceive, typsend, typmodin, typmodout
FROM pg_type WHERE typname = 'vector';
SELECT typstorage FROM pg_type WHERE typname = 'vector';

-- every function of the type is IMMUTABLE STRICT PARALLEL SAFE
SELECT f::regprocedure AS function, p.prokind, p.provolatile, p.proisstrict,
       p.proparallel, p.prorettype::regtype AS returns
FROM unnest(ARRAY[
    'vector_in(cstring,oid,integer)', 'vector_out(vector)',
    'vector_typmod_in(cstring[])', 'vector_recv(internal,oid,integer)',
    'vector_send(vector)',
    'l2_distance(vector,vector)', 'inner_product(vector,vector)',
    'cosine_distance(vector,vector)', 'l1_distance(vector,vector)',
    'vector_negative_inner_product(vector,vector)', 'vector_dims(vector)',
    'vector_norm(vector)', 'l2_normalize(vector)',
    'subvector(vector,integer,integer)', 'vector_add(vector,vector)',
    'vector_sub(vector,vector)', 'vector_mul(vector,vector)',
    'vector_concat(vector,vector)', 'vector_lt(vector,vector)',
    'vector_le(vector,vector)', 'vector_eq(vector,vector)',
    'vector_ne(vector,vector)', 'vector_ge(vector,vector)',
    'vector_gt(vector,vector)', 'vector_cmp(vector,vector)',
    'vector_accum(double precision[],vector)',
    'vector_combine(double precision[],double precision[])',
    'vector_avg(double precision[])', 'avg(vector)', 'sum(vector)',
    'vector(vector,integer,boolean)',
    'array_to_vector(integer[],integer,boolean)',
    'array_to_vector(real[],integer,boolean)',
    'array_to_vector(double precision[],integer,boolean)',
    'array_to_vector(numeric[],integer,boolean)',
    'vector_to_float4(vector,integer,boolean)'
]::regprocedure[]) WITH ORDINALITY AS u(f, n)
JOIN pg_proc p ON p.oid = u.f
ORDER BY n;

-- ... and all of them belong to the extension
SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND e.extname = 'hybridsearch'
  AND d.objid IN (SELECT oid FROM pg_proc
                  WHERE proname IN ('vector_in', 'vector_out', 'vector_typmod_in',
                                    'vector_recv', 'vector_send', 'vector_accum',
                                    'vector_combine', 'vector_avg', 'vector',
                                    'array_to_vector', 'vector_to_float4'));

-- operators
SELECT o.oprname, o.oprleft::regtype, o.oprright::regtype,
       o.oprresult::regtype, o.oprcode::regproc, o.oprcom::regoperator AS commutator,
       o.oprnegate::regoperator AS negator
FROM pg_operator o
WHERE o.oprleft = 'vector'::regtype AND o.oprright = 'vector'::regtype
ORDER BY o.oprname COLLATE "C";

-- casts
SELECT castsource::regtype, casttarget::regtype, castfunc::regprocedure,
       castcontext, castmethod
FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
ORDER BY castsource::regtype::text COLLATE "C", casttarget::regtype::text COLLATE "C";

-- the btree operator class is the default for vector
SELECT opcname, opcdefault, amname
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE opcintype = 'vector'::regtype AND amname = 'btree';

-- large vectors are stored out of line and never compressed (storage
-- external): 16000 equal elements would compress to almost nothing, but the
-- stored size is the whole 64008-byte value less its 4-byte header
CREATE TABLE vector_type_toast (v vector);
INSERT INTO vector_type_toast SELECT array_fill(1, ARRAY[16000])::vector;
SELECT pg_column_size(v) AS stored_size, vector_dims(v), vector_norm(v)
FROM vector_type_toast;
SELECT pg_relation_size(reltoastrelid) > 0 AS stored_in_toast_table
FROM pg_class WHERE relname = 'vector_type_toast';
DROP TABLE vector_type_toast;
