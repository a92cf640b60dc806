--
-- vector_binary: the binary form (vector_send / vector_recv), pgvector's
-- layout: int16 dim, int16 unused (0), dim float4 values, network order.
--

SELECT vector_send('[1,2]');
SELECT vector_send('[1]'), vector_send('[-1.5]'), vector_send('[0.1]');
SELECT vector_send('[0]'), vector_send('[-0]');
SELECT vector_send('[1e-45]'), vector_send('[3.4028235e38]'),
       vector_send('[-3.4028235e38]'), vector_send('[1.17549435e-38]');
SELECT vector_send('[1,2,3]'::vector(3)), pg_typeof(vector_send('[1]'));
SELECT length(vector_send(array_fill(1, ARRAY[16000])::vector)),
       substr(vector_send(array_fill(1, ARRAY[16000])::vector), 1, 8);
SELECT vector_send(NULL) IS NULL;

--
-- binary COPY round trip through a server-side file
--
\getenv abs_builddir PG_ABS_BUILDDIR
\set filename :abs_builddir '/results/vector_binary.data'

CREATE TABLE vector_binary_t (id int, v vector);
INSERT INTO vector_binary_t VALUES
    (1, '[1,2,3]'), (2, '[-0,0,1e-45]'), (3, '[3.4028235e38,-3.4028235e38]'),
    (4, '[0.1,0.2,0.3]'), (5, NULL), (6, '[1.17549435e-38,-1e-40]'),
    (7, array_fill(0.5, ARRAY[16000])::vector),
    (8, (SELECT array_agg(i / 7.0)::vector FROM generate_series(1, 1000) i));
COPY vector_binary_t TO :'filename' WITH (FORMAT binary);
CREATE TABLE vector_binary_t2 (id int, v vector);
COPY vector_binary_t2 FROM :'filename' WITH (FORMAT binary);
SELECT id, vector_dims(v), CASE WHEN vector_dims(v) < 10 THEN v::text END AS v
FROM vector_binary_t2 ORDER BY id;
-- the very same bits come back (compare by bytes: -0 = 0 as vectors)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE vector_send(a.v) IS NOT DISTINCT FROM vector_send(b.v)) AS same,
       count(*) FILTER (WHERE a.v IS NULL AND b.v IS NULL) AS both_null
FROM vector_binary_t a JOIN vector_binary_t2 b USING (id);
-- and binary COPY into a vector(n) column checks the typmod
CREATE TABLE vector_binary_t3 (id int, v vector(3));
COPY vector_binary_t3 FROM :'filename' WITH (FORMAT binary);
COPY (SELECT * FROM vector_binary_t WHERE vector_dims(v) = 3 OR v IS NULL)
    TO :'filename' WITH (FORMAT binary);
COPY vector_binary_t3 FROM :'filename' WITH (FORMAT binary);
SELECT * FROM vector_binary_t3 ORDER BY id;
TRUNCATE vector_binary_t3;
COPY (SELECT id, v FROM vector_binary_t WHERE id = 3) TO :'filename' WITH (FORMAT binary);
COPY vector_binary_t3 FROM :'filename' WITH (FORMAT binary);
SELECT * FROM vector_binary_t3;
DROP TABLE vector_binary_t, vector_binary_t2, vector_binary_t3;

-- the file that binary COPY writes, byte by byte
COPY (SELECT '[1,2]'::vector) TO :'filename' WITH (FORMAT binary);
SELECT pg_read_binary_file(:'filename');

--
-- hand-made binary COPY files: one row, one vector field
--
-- (written through a large object and lo_export: plain SQL, no shell tools)
CREATE FUNCTION vector_binary_file(filename text, field bytea) RETURNS int AS $$
DECLARE
    lo oid;
    content bytea;
BEGIN
    content := '\x5047434f50590aff0d0a00'::bytea	-- signature "PGCOPY\n\377\r\n\0"
        || '\x0000000000000000'::bytea			-- flags, header extension length
        || '\x0001'::bytea || int4send(length(field)) || field	-- tuple: 1 field
        || '\xffff'::bytea;					-- trailer
    lo := lo_from_bytea(0, content);
    PERFORM lo_export(lo, filename);
    PERFORM lo_unlink(lo);
    RETURN length(content);
END
$$ LANGUAGE plpgsql;

-- the helper writes what COPY writes
SELECT vector_binary_file(:'filename', vector_send('[1,2]'));
SELECT pg_read_binary_file(:'filename');

CREATE TABLE vector_binary_r (v vector);
CREATE TABLE vector_binary_r3 (v vector(3));

-- valid input
SELECT vector_binary_file(:'filename', '\x00020000 3f800000 c0000000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00030000 80000000 00000001 7f7fffff'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
COPY vector_binary_r3 FROM :'filename' WITH (FORMAT binary);
SELECT v, vector_send(v) FROM vector_binary_r;
SELECT v, vector_send(v) FROM vector_binary_r3;

-- wrong dimensions for the typmod (checked before "unused")
SELECT vector_binary_file(:'filename', '\x00020000 3f800000 c0000000'::bytea);
COPY vector_binary_r3 FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00020001 3f800000 c0000000'::bytea);
COPY vector_binary_r3 FROM :'filename' WITH (FORMAT binary);
-- unused must be 0
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010007 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x0001ffff 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00018000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
-- dimensions out of range (dim is a signed int16)
SELECT vector_binary_file(:'filename', '\x00000000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\xffff0000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x80000000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x3e810000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x7fff0000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
-- 16000 dimensions are fine
SELECT vector_binary_file(:'filename',
    '\x3e800000'::bytea || decode(repeat('3f800000', 16000), 'hex'));
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
-- NaN and infinities
SELECT vector_binary_file(:'filename', '\x00020000 3f800000 7fc00000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010000 ffc00001'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010000 7f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010000 ff800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
-- too few or too many bytes for the dimensions
SELECT vector_binary_file(:'filename', '\x00020000 3f800000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010000 3f80'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x0001'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);
SELECT vector_binary_file(:'filename', '\x00010000 3f800000 40000000'::bytea);
COPY vector_binary_r FROM :'filename' WITH (FORMAT binary);

-- nothing but the valid rows got in
SELECT vector_dims(v), CASE WHEN vector_dims(v) < 10 THEN v::text END AS v,
       vector_norm(v)
FROM vector_binary_r ORDER BY vector_dims(v), v;

DROP TABLE vector_binary_r, vector_binary_r3;
DROP FUNCTION vector_binary_file(text, bytea);
