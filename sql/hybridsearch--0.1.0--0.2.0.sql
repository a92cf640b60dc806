/* hybridsearch 0.1.0 -> 0.2.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.2.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql and then this
-- script, so every object added since 0.1.0 is defined here once.

-- One shared copy per index (issue 13): hybridsearch_index_stats() shows the
-- copy's state and its loads and evictions, and how many scans streamed the
-- pages; hybridsearch_prewarm() loads a copy before queries need it.
DROP VIEW hybridsearch_stats;
DROP FUNCTION hybridsearch_index_stats(regclass);
CREATE FUNCTION hybridsearch_index_stats(index regclass,
	OUT rows bigint, OUT null_rows bigint, OUT dead_rows bigint,
	OUT dimensions integer, OUT search_precision text,
	OUT cpu_cached_rows bigint, OUT cpu_cached_bytes bigint,
	OUT cpu_scans bigint, OUT gpu_scans bigint, OUT gpu_fallbacks bigint,
	OUT mean_scan_ms double precision, OUT p95_scan_ms double precision,
	OUT gpu_resident_rows bigint, OUT gpu_resident_bytes bigint,
	OUT mean_gpu_batch double precision, OUT mean_gpu_kernel_ms double precision,
	OUT stats_scope text,
	OUT copy_state text, OUT copy_scope text, OUT copy_loads bigint,
	OUT copy_evictions bigint, OUT last_load_ms double precision,
	OUT streamed_scans bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hybridsearch_index_stats(regclass) IS 'size, dense copy, scan counts and scan times of one hybrid index';

-- One row per valid hybrid index whose table the user may read (other
-- sessions' temporary indexes cannot be read, so they are left out).
CREATE VIEW hybridsearch_stats AS
	SELECT v.index, v."table", s.*
	FROM (SELECT c.oid::regclass AS index, i.indrelid::regclass AS "table"
		  FROM pg_class c
		  JOIN pg_am a ON a.oid = c.relam AND a.amname = 'hybrid'
		  JOIN pg_index i ON i.indexrelid = c.oid
		  WHERE i.indisvalid
			AND has_table_privilege(i.indrelid, 'SELECT')
			AND (c.relpersistence <> 't' OR c.relnamespace = pg_my_temp_schema())
		  OFFSET 0) v
	CROSS JOIN LATERAL hybridsearch_index_stats(v.index) s;
GRANT SELECT ON hybridsearch_stats TO PUBLIC;
COMMENT ON VIEW hybridsearch_stats IS 'hybridsearch_index_stats() of every valid hybrid index whose table the current user may read';

CREATE FUNCTION hybridsearch_prewarm(index regclass) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION hybridsearch_prewarm(regclass) IS 'loads the dense copy of a hybrid index (and its GPU copy where scans would use the GPU); returns its rows';

-- ---------------------------------------------------------------------
-- pgvector types (issue 17, part 1): halfvec, the bit distances,
-- binary_quantize, and vector functions of pgvector 0.8 missing in 0.1.0
-- ---------------------------------------------------------------------

-- vector: the rest of pgvector's functions

CREATE FUNCTION vector_l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_spherical_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION binary_quantize(vector) RETURNS bit
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vector_l2_squared_distance(vector, vector) IS 'squared Euclidean (L2) distance';
COMMENT ON FUNCTION vector_spherical_distance(vector, vector) IS 'angular distance of unit vectors: acos(inner product) / pi';
COMMENT ON FUNCTION binary_quantize(vector) IS 'binary quantization: a bit string with bit i set where element i is positive';

-- bit: hamming and jaccard distances

CREATE FUNCTION hamming_distance(bit, bit) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION jaccard_distance(bit, bit) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <~> (
	LEFTARG = bit, RIGHTARG = bit, PROCEDURE = hamming_distance,
	COMMUTATOR = '<~>'
);
CREATE OPERATOR <%> (
	LEFTARG = bit, RIGHTARG = bit, PROCEDURE = jaccard_distance,
	COMMUTATOR = '<%>'
);

COMMENT ON FUNCTION hamming_distance(bit, bit) IS 'Hamming distance: the number of bits that differ; operator <~>';
COMMENT ON FUNCTION jaccard_distance(bit, bit) IS 'Jaccard distance: 1 - |a AND b| / |a OR b|, 1 when no bit is set in both; operator <%>';
COMMENT ON OPERATOR <~> (bit, bit) IS 'Hamming distance';
COMMENT ON OPERATOR <%> (bit, bit) IS 'Jaccard distance';

-- halfvec: the type

CREATE TYPE halfvec;

CREATE FUNCTION halfvec_in(cstring, oid, integer) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_out(halfvec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_recv(internal, oid, integer) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_send(halfvec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE halfvec (
	INPUT     = halfvec_in,
	OUTPUT    = halfvec_out,
	TYPMOD_IN = halfvec_typmod_in,
	RECEIVE   = halfvec_recv,
	SEND      = halfvec_send,
	STORAGE   = external
);

COMMENT ON TYPE halfvec IS 'vector of half-precision (fp16) elements, pgvector-compatible; halfvec(n) fixes the number of dimensions (1 to 16000)';
COMMENT ON FUNCTION halfvec_in(cstring, oid, integer) IS 'text input function of type halfvec';
COMMENT ON FUNCTION halfvec_out(halfvec) IS 'text output function of type halfvec';
COMMENT ON FUNCTION halfvec_typmod_in(cstring[]) IS 'type modifier input function of type halfvec: halfvec(n), n from 1 to 16000';
COMMENT ON FUNCTION halfvec_recv(internal, oid, integer) IS 'binary input function of type halfvec (pgvector''s layout)';
COMMENT ON FUNCTION halfvec_send(halfvec) IS 'binary output function of type halfvec (pgvector''s layout)';

-- halfvec: functions

CREATE FUNCTION l2_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'halfvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'halfvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'halfvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'halfvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_dims(halfvec) RETURNS integer
	AS 'MODULE_PATHNAME', 'halfvec_vector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_norm(halfvec) RETURNS float8
	AS 'MODULE_PATHNAME', 'halfvec_l2_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'halfvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION binary_quantize(halfvec) RETURNS bit
	AS 'MODULE_PATHNAME', 'halfvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvector(halfvec, integer, integer) RETURNS halfvec
	AS 'MODULE_PATHNAME', 'halfvec_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_add(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_sub(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_mul(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_concat(halfvec, halfvec) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_l2_squared_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_negative_inner_product(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_spherical_distance(halfvec, halfvec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION l2_distance(halfvec, halfvec) IS 'Euclidean (L2) distance; operator <->';
COMMENT ON FUNCTION inner_product(halfvec, halfvec) IS 'inner (dot) product; operator <#> gives its negative';
COMMENT ON FUNCTION cosine_distance(halfvec, halfvec) IS '1 - cosine similarity, NaN if either vector is zero; operator <=>';
COMMENT ON FUNCTION l1_distance(halfvec, halfvec) IS 'taxicab (L1) distance; operator <+>';
COMMENT ON FUNCTION vector_dims(halfvec) IS 'number of dimensions';
COMMENT ON FUNCTION l2_norm(halfvec) IS 'Euclidean (L2) norm, accumulated in double precision';
COMMENT ON FUNCTION l2_normalize(halfvec) IS 'the vector scaled to Euclidean norm 1; the zero vector stays zero';
COMMENT ON FUNCTION binary_quantize(halfvec) IS 'binary quantization: a bit string with bit i set where element i is positive';
COMMENT ON FUNCTION subvector(halfvec, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start, clipped like substring()';
COMMENT ON FUNCTION halfvec_add(halfvec, halfvec) IS 'element-wise sum; operator +';
COMMENT ON FUNCTION halfvec_sub(halfvec, halfvec) IS 'element-wise difference; operator -';
COMMENT ON FUNCTION halfvec_mul(halfvec, halfvec) IS 'element-wise product; operator *';
COMMENT ON FUNCTION halfvec_concat(halfvec, halfvec) IS 'concatenation; operator ||';
COMMENT ON FUNCTION halfvec_l2_squared_distance(halfvec, halfvec) IS 'squared Euclidean (L2) distance';
COMMENT ON FUNCTION halfvec_negative_inner_product(halfvec, halfvec) IS 'negative inner product; operator <#>';
COMMENT ON FUNCTION halfvec_spherical_distance(halfvec, halfvec) IS 'angular distance of unit vectors: acos(inner product) / pi';

-- halfvec: comparison

CREATE FUNCTION halfvec_lt(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_le(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_eq(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_ne(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_ge(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_gt(halfvec, halfvec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_cmp(halfvec, halfvec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION halfvec_lt(halfvec, halfvec) IS 'implementation of operator < on halfvecs';
COMMENT ON FUNCTION halfvec_le(halfvec, halfvec) IS 'implementation of operator <= on halfvecs';
COMMENT ON FUNCTION halfvec_eq(halfvec, halfvec) IS 'implementation of operator = on halfvecs';
COMMENT ON FUNCTION halfvec_ne(halfvec, halfvec) IS 'implementation of operator <> on halfvecs';
COMMENT ON FUNCTION halfvec_ge(halfvec, halfvec) IS 'implementation of operator >= on halfvecs';
COMMENT ON FUNCTION halfvec_gt(halfvec, halfvec) IS 'implementation of operator > on halfvecs';
COMMENT ON FUNCTION halfvec_cmp(halfvec, halfvec) IS 'btree comparison function of halfvecs: element-wise order, then length';

-- halfvec: aggregates (the combine function is vector_combine, as in pgvector)

CREATE FUNCTION halfvec_accum(double precision[], halfvec) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_avg(double precision[]) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(halfvec) (
	SFUNC = halfvec_accum,
	STYPE = double precision[],
	FINALFUNC = halfvec_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);
CREATE AGGREGATE sum(halfvec) (
	SFUNC = halfvec_add,
	STYPE = halfvec,
	COMBINEFUNC = halfvec_add,
	PARALLEL = SAFE
);

COMMENT ON FUNCTION halfvec_accum(double precision[], halfvec) IS 'state transition function of avg(halfvec)';
COMMENT ON FUNCTION halfvec_avg(double precision[]) IS 'final function of avg(halfvec)';
COMMENT ON AGGREGATE avg(halfvec) IS 'element-wise mean of halfvecs, accumulated in double precision';
COMMENT ON AGGREGATE sum(halfvec) IS 'element-wise sum of halfvecs';

-- halfvec: casts

CREATE FUNCTION halfvec(halfvec, integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_to_vector(halfvec, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_halfvec(vector, integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_halfvec(integer[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_halfvec(real[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_halfvec(double precision[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_halfvec(numeric[], integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_to_float4(halfvec, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (halfvec AS halfvec)
	WITH FUNCTION halfvec(halfvec, integer, boolean) AS IMPLICIT;
CREATE CAST (halfvec AS vector)
	WITH FUNCTION halfvec_to_vector(halfvec, integer, boolean) AS ASSIGNMENT;
CREATE CAST (vector AS halfvec)
	WITH FUNCTION vector_to_halfvec(vector, integer, boolean) AS IMPLICIT;
CREATE CAST (halfvec AS real[])
	WITH FUNCTION halfvec_to_float4(halfvec, integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS halfvec)
	WITH FUNCTION array_to_halfvec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS halfvec)
	WITH FUNCTION array_to_halfvec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS halfvec)
	WITH FUNCTION array_to_halfvec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS halfvec)
	WITH FUNCTION array_to_halfvec(numeric[], integer, boolean) AS ASSIGNMENT;

COMMENT ON FUNCTION halfvec(halfvec, integer, boolean) IS 'cast function of halfvec to halfvec(n): checks the number of dimensions';
COMMENT ON FUNCTION halfvec_to_vector(halfvec, integer, boolean) IS 'cast function of halfvec to vector (exact)';
COMMENT ON FUNCTION vector_to_halfvec(vector, integer, boolean) IS 'cast function of vector to halfvec: rounds to nearest, an element beyond 65504 is an error';
COMMENT ON FUNCTION array_to_halfvec(integer[], integer, boolean) IS 'cast function of integer[] to halfvec';
COMMENT ON FUNCTION array_to_halfvec(real[], integer, boolean) IS 'cast function of real[] to halfvec';
COMMENT ON FUNCTION array_to_halfvec(double precision[], integer, boolean) IS 'cast function of double precision[] to halfvec';
COMMENT ON FUNCTION array_to_halfvec(numeric[], integer, boolean) IS 'cast function of numeric[] to halfvec';
COMMENT ON FUNCTION halfvec_to_float4(halfvec, integer, boolean) IS 'cast function of halfvec to real[]';
COMMENT ON CAST (halfvec AS halfvec) IS 'applies the type modifier halfvec(n) (implicit)';
COMMENT ON CAST (halfvec AS vector) IS 'the same values in single precision (assignment)';
COMMENT ON CAST (vector AS halfvec) IS 'the values rounded to half precision (implicit)';
COMMENT ON CAST (halfvec AS real[]) IS 'the elements as an array (assignment)';
COMMENT ON CAST (integer[] AS halfvec) IS 'a one-dimensional array without NULLs as a halfvec (assignment)';
COMMENT ON CAST (real[] AS halfvec) IS 'a one-dimensional array without NULLs as a halfvec (assignment)';
COMMENT ON CAST (double precision[] AS halfvec) IS 'a one-dimensional array without NULLs as a halfvec (assignment)';
COMMENT ON CAST (numeric[] AS halfvec) IS 'a one-dimensional array without NULLs as a halfvec (assignment)';

-- halfvec: operators and the btree operator class

CREATE OPERATOR <-> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);
CREATE OPERATOR + (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_add,
	COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_sub
);
CREATE OPERATOR * (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_mul,
	COMMUTATOR = *
);
CREATE OPERATOR || (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_concat
);
CREATE OPERATOR < (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = halfvec, RIGHTARG = halfvec, PROCEDURE = halfvec_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS halfvec_ops
	DEFAULT FOR TYPE halfvec USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 halfvec_cmp(halfvec, halfvec);

COMMENT ON OPERATOR <-> (halfvec, halfvec) IS 'Euclidean (L2) distance';
COMMENT ON OPERATOR <#> (halfvec, halfvec) IS 'negative inner product';
COMMENT ON OPERATOR <=> (halfvec, halfvec) IS 'cosine distance: 1 - cosine similarity, NaN if either vector is zero';
COMMENT ON OPERATOR <+> (halfvec, halfvec) IS 'taxicab (L1) distance';
COMMENT ON OPERATOR + (halfvec, halfvec) IS 'element-wise sum';
COMMENT ON OPERATOR - (halfvec, halfvec) IS 'element-wise difference';
COMMENT ON OPERATOR * (halfvec, halfvec) IS 'element-wise product';
COMMENT ON OPERATOR || (halfvec, halfvec) IS 'concatenation';
COMMENT ON OPERATOR < (halfvec, halfvec) IS 'less than: element-wise order, then length';
COMMENT ON OPERATOR <= (halfvec, halfvec) IS 'less than or equal: element-wise order, then length';
COMMENT ON OPERATOR = (halfvec, halfvec) IS 'equal: same length and elements';
COMMENT ON OPERATOR <> (halfvec, halfvec) IS 'not equal';
COMMENT ON OPERATOR >= (halfvec, halfvec) IS 'greater than or equal: element-wise order, then length';
COMMENT ON OPERATOR > (halfvec, halfvec) IS 'greater than: element-wise order, then length';
COMMENT ON OPERATOR CLASS halfvec_ops USING btree IS 'default btree operator class of halfvec: element-wise order, then length';
COMMENT ON OPERATOR FAMILY halfvec_ops USING btree IS 'btree operator family of halfvec (operator class halfvec_ops)';

-- sparsevec: the type

CREATE TYPE sparsevec;

CREATE FUNCTION sparsevec_in(cstring, oid, integer) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_out(sparsevec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_recv(internal, oid, integer) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_send(sparsevec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE sparsevec (
	INPUT     = sparsevec_in,
	OUTPUT    = sparsevec_out,
	TYPMOD_IN = sparsevec_typmod_in,
	RECEIVE   = sparsevec_recv,
	SEND      = sparsevec_send,
	STORAGE   = external
);

COMMENT ON TYPE sparsevec IS 'sparse vector, pgvector-compatible: {index:value,...}/dimensions, up to 1000000000 dimensions and 16000 non-zero elements';
COMMENT ON FUNCTION sparsevec_in(cstring, oid, integer) IS 'text input function of type sparsevec';
COMMENT ON FUNCTION sparsevec_out(sparsevec) IS 'text output function of type sparsevec';
COMMENT ON FUNCTION sparsevec_typmod_in(cstring[]) IS 'type modifier input function of type sparsevec: sparsevec(n), n from 1 to 1000000000';
COMMENT ON FUNCTION sparsevec_recv(internal, oid, integer) IS 'binary input function of type sparsevec (pgvector''s layout)';
COMMENT ON FUNCTION sparsevec_send(sparsevec) IS 'binary output function of type sparsevec (pgvector''s layout)';

-- sparsevec: functions

CREATE FUNCTION l2_distance(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME', 'sparsevec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME', 'sparsevec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME', 'sparsevec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME', 'sparsevec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_norm(sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME', 'sparsevec_l2_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(sparsevec) RETURNS sparsevec
	AS 'MODULE_PATHNAME', 'sparsevec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_l2_squared_distance(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_negative_inner_product(sparsevec, sparsevec) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION l2_distance(sparsevec, sparsevec) IS 'Euclidean (L2) distance; operator <->';
COMMENT ON FUNCTION inner_product(sparsevec, sparsevec) IS 'inner (dot) product; operator <#> gives its negative';
COMMENT ON FUNCTION cosine_distance(sparsevec, sparsevec) IS '1 - cosine similarity, NaN if either vector is zero; operator <=>';
COMMENT ON FUNCTION l1_distance(sparsevec, sparsevec) IS 'taxicab (L1) distance; operator <+>';
COMMENT ON FUNCTION l2_norm(sparsevec) IS 'Euclidean (L2) norm, accumulated in double precision';
COMMENT ON FUNCTION l2_normalize(sparsevec) IS 'the vector scaled to Euclidean norm 1; the zero vector stays zero';
COMMENT ON FUNCTION sparsevec_l2_squared_distance(sparsevec, sparsevec) IS 'squared Euclidean (L2) distance';
COMMENT ON FUNCTION sparsevec_negative_inner_product(sparsevec, sparsevec) IS 'negative inner product; operator <#>';

-- sparsevec: comparison

CREATE FUNCTION sparsevec_lt(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_le(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_eq(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_ne(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_ge(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_gt(sparsevec, sparsevec) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_cmp(sparsevec, sparsevec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION sparsevec_lt(sparsevec, sparsevec) IS 'implementation of operator < on sparsevecs';
COMMENT ON FUNCTION sparsevec_le(sparsevec, sparsevec) IS 'implementation of operator <= on sparsevecs';
COMMENT ON FUNCTION sparsevec_eq(sparsevec, sparsevec) IS 'implementation of operator = on sparsevecs';
COMMENT ON FUNCTION sparsevec_ne(sparsevec, sparsevec) IS 'implementation of operator <> on sparsevecs';
COMMENT ON FUNCTION sparsevec_ge(sparsevec, sparsevec) IS 'implementation of operator >= on sparsevecs';
COMMENT ON FUNCTION sparsevec_gt(sparsevec, sparsevec) IS 'implementation of operator > on sparsevecs';
COMMENT ON FUNCTION sparsevec_cmp(sparsevec, sparsevec) IS 'btree comparison function of sparsevecs: the order of the dense vectors, then length';

-- sparsevec: casts

CREATE FUNCTION sparsevec(sparsevec, integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_sparsevec(vector, integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_to_vector(sparsevec, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION halfvec_to_sparsevec(halfvec, integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION sparsevec_to_halfvec(sparsevec, integer, boolean) RETURNS halfvec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_sparsevec(integer[], integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_sparsevec(real[], integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_sparsevec(double precision[], integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_sparsevec(numeric[], integer, boolean) RETURNS sparsevec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (sparsevec AS sparsevec)
	WITH FUNCTION sparsevec(sparsevec, integer, boolean) AS IMPLICIT;
CREATE CAST (sparsevec AS vector)
	WITH FUNCTION sparsevec_to_vector(sparsevec, integer, boolean) AS ASSIGNMENT;
CREATE CAST (vector AS sparsevec)
	WITH FUNCTION vector_to_sparsevec(vector, integer, boolean) AS IMPLICIT;
CREATE CAST (sparsevec AS halfvec)
	WITH FUNCTION sparsevec_to_halfvec(sparsevec, integer, boolean) AS ASSIGNMENT;
CREATE CAST (halfvec AS sparsevec)
	WITH FUNCTION halfvec_to_sparsevec(halfvec, integer, boolean) AS IMPLICIT;
CREATE CAST (integer[] AS sparsevec)
	WITH FUNCTION array_to_sparsevec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS sparsevec)
	WITH FUNCTION array_to_sparsevec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS sparsevec)
	WITH FUNCTION array_to_sparsevec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS sparsevec)
	WITH FUNCTION array_to_sparsevec(numeric[], integer, boolean) AS ASSIGNMENT;

COMMENT ON FUNCTION sparsevec(sparsevec, integer, boolean) IS 'cast function of sparsevec to sparsevec(n): checks the number of dimensions';
COMMENT ON FUNCTION vector_to_sparsevec(vector, integer, boolean) IS 'cast function of vector to sparsevec: keeps the elements other than zero';
COMMENT ON FUNCTION sparsevec_to_vector(sparsevec, integer, boolean) IS 'cast function of sparsevec to vector (at most 16000 dimensions)';
COMMENT ON FUNCTION halfvec_to_sparsevec(halfvec, integer, boolean) IS 'cast function of halfvec to sparsevec: keeps the elements other than zero';
COMMENT ON FUNCTION sparsevec_to_halfvec(sparsevec, integer, boolean) IS 'cast function of sparsevec to halfvec (at most 16000 dimensions, values rounded to half)';
COMMENT ON FUNCTION array_to_sparsevec(integer[], integer, boolean) IS 'cast function of integer[] to sparsevec';
COMMENT ON FUNCTION array_to_sparsevec(real[], integer, boolean) IS 'cast function of real[] to sparsevec';
COMMENT ON FUNCTION array_to_sparsevec(double precision[], integer, boolean) IS 'cast function of double precision[] to sparsevec';
COMMENT ON FUNCTION array_to_sparsevec(numeric[], integer, boolean) IS 'cast function of numeric[] to sparsevec';
COMMENT ON CAST (sparsevec AS sparsevec) IS 'applies the type modifier sparsevec(n) (implicit)';
COMMENT ON CAST (sparsevec AS vector) IS 'the dense vector (assignment)';
COMMENT ON CAST (vector AS sparsevec) IS 'the elements other than zero (implicit)';
COMMENT ON CAST (sparsevec AS halfvec) IS 'the dense vector in half precision (assignment)';
COMMENT ON CAST (halfvec AS sparsevec) IS 'the elements other than zero (implicit)';
COMMENT ON CAST (integer[] AS sparsevec) IS 'a one-dimensional array without NULLs as a sparsevec (assignment)';
COMMENT ON CAST (real[] AS sparsevec) IS 'a one-dimensional array without NULLs as a sparsevec (assignment)';
COMMENT ON CAST (double precision[] AS sparsevec) IS 'a one-dimensional array without NULLs as a sparsevec (assignment)';
COMMENT ON CAST (numeric[] AS sparsevec) IS 'a one-dimensional array without NULLs as a sparsevec (assignment)';

-- sparsevec: operators and the btree operator class

CREATE OPERATOR <-> (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);
CREATE OPERATOR < (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = sparsevec, RIGHTARG = sparsevec, PROCEDURE = sparsevec_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS sparsevec_ops
	DEFAULT FOR TYPE sparsevec USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 sparsevec_cmp(sparsevec, sparsevec);

COMMENT ON OPERATOR <-> (sparsevec, sparsevec) IS 'Euclidean (L2) distance';
COMMENT ON OPERATOR <#> (sparsevec, sparsevec) IS 'negative inner product';
COMMENT ON OPERATOR <=> (sparsevec, sparsevec) IS 'cosine distance: 1 - cosine similarity, NaN if either vector is zero';
COMMENT ON OPERATOR <+> (sparsevec, sparsevec) IS 'taxicab (L1) distance';
COMMENT ON OPERATOR < (sparsevec, sparsevec) IS 'less than: the order of the dense vectors, then length';
COMMENT ON OPERATOR <= (sparsevec, sparsevec) IS 'less than or equal: the order of the dense vectors, then length';
COMMENT ON OPERATOR = (sparsevec, sparsevec) IS 'equal: same dimensions and elements';
COMMENT ON OPERATOR <> (sparsevec, sparsevec) IS 'not equal';
COMMENT ON OPERATOR >= (sparsevec, sparsevec) IS 'greater than or equal: the order of the dense vectors, then length';
COMMENT ON OPERATOR > (sparsevec, sparsevec) IS 'greater than: the order of the dense vectors, then length';
COMMENT ON OPERATOR CLASS sparsevec_ops USING btree IS 'default btree operator class of sparsevec: the order of the dense vectors, then length';
COMMENT ON OPERATOR FAMILY sparsevec_ops USING btree IS 'btree operator family of sparsevec (operator class sparsevec_ops)';
