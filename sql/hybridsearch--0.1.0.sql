-- hybridsearch 0.1.0: the pgvector-compatible vector type and its operators.

\echo Use "CREATE EXTENSION hybridsearch" to load this file. \quit

-- type

CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_out(vector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_recv(internal, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_send(vector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- External, uncompressed storage as in pgvector: scans never pay for
-- decompression, and large vectors move out of line.
CREATE TYPE vector (
	INPUT     = vector_in,
	OUTPUT    = vector_out,
	TYPMOD_IN = vector_typmod_in,
	RECEIVE   = vector_recv,
	SEND      = vector_send,
	STORAGE   = external
);

COMMENT ON TYPE vector IS 'vector of float4 elements, pgvector-compatible; vector(n) fixes the number of dimensions (1 to 16000)';
COMMENT ON FUNCTION vector_in(cstring, oid, integer) IS 'text input function of type vector';
COMMENT ON FUNCTION vector_out(vector) IS 'text output function of type vector';
COMMENT ON FUNCTION vector_typmod_in(cstring[]) IS 'type modifier input function of type vector: vector(n), n from 1 to 16000';
COMMENT ON FUNCTION vector_recv(internal, oid, integer) IS 'binary input function of type vector (pgvector''s layout)';
COMMENT ON FUNCTION vector_send(vector) IS 'binary output function of type vector (pgvector''s layout)';

-- distances and other functions

CREATE FUNCTION l2_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_negative_inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_dims(vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_norm(vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvector(vector, integer, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_add(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_sub(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_mul(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_concat(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION l2_distance(vector, vector) IS 'Euclidean (L2) distance; operator <->';
COMMENT ON FUNCTION inner_product(vector, vector) IS 'inner (dot) product; operator <#> gives its negative';
COMMENT ON FUNCTION cosine_distance(vector, vector) IS '1 - cosine similarity, NaN if either vector is zero; operator <=>';
COMMENT ON FUNCTION l1_distance(vector, vector) IS 'taxicab (L1) distance; operator <+>';
COMMENT ON FUNCTION vector_negative_inner_product(vector, vector) IS 'negative inner product; operator <#>';
COMMENT ON FUNCTION vector_dims(vector) IS 'number of dimensions';
COMMENT ON FUNCTION vector_norm(vector) IS 'Euclidean (L2) norm, accumulated in double precision';
COMMENT ON FUNCTION l2_normalize(vector) IS 'the vector scaled to Euclidean norm 1; the zero vector stays zero';
COMMENT ON FUNCTION subvector(vector, integer, integer) IS 'subvector(v, start, count): count elements from 1-based position start, clipped like substring()';
COMMENT ON FUNCTION vector_add(vector, vector) IS 'element-wise sum; operator +';
COMMENT ON FUNCTION vector_sub(vector, vector) IS 'element-wise difference; operator -';
COMMENT ON FUNCTION vector_mul(vector, vector) IS 'element-wise product; operator *';
COMMENT ON FUNCTION vector_concat(vector, vector) IS 'concatenation; operator ||';

-- comparison

CREATE FUNCTION vector_lt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_le(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_eq(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_ne(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_ge(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_gt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_cmp(vector, vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vector_lt(vector, vector) IS 'implementation of operator < on vectors';
COMMENT ON FUNCTION vector_le(vector, vector) IS 'implementation of operator <= on vectors';
COMMENT ON FUNCTION vector_eq(vector, vector) IS 'implementation of operator = on vectors';
COMMENT ON FUNCTION vector_ne(vector, vector) IS 'implementation of operator <> on vectors';
COMMENT ON FUNCTION vector_ge(vector, vector) IS 'implementation of operator >= on vectors';
COMMENT ON FUNCTION vector_gt(vector, vector) IS 'implementation of operator > on vectors';
COMMENT ON FUNCTION vector_cmp(vector, vector) IS 'btree comparison function of vectors: element-wise order, then length';

-- aggregates

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC = vector_add,
	STYPE = vector,
	COMBINEFUNC = vector_add,
	PARALLEL = SAFE
);

COMMENT ON FUNCTION vector_accum(double precision[], vector) IS 'state transition function of avg(vector)';
COMMENT ON FUNCTION vector_combine(double precision[], double precision[]) IS 'combine function of avg(vector)';
COMMENT ON FUNCTION vector_avg(double precision[]) IS 'final function of avg(vector)';
COMMENT ON AGGREGATE avg(vector) IS 'element-wise mean of vectors, accumulated in double precision';
COMMENT ON AGGREGATE sum(vector) IS 'element-wise sum of vectors';

-- casts

CREATE FUNCTION vector(vector, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(integer[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(real[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(double precision[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(numeric[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_float4(vector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (vector AS vector)
	WITH FUNCTION vector(vector, integer, boolean) AS IMPLICIT;
CREATE CAST (vector AS real[])
	WITH FUNCTION vector_to_float4(vector, integer, boolean) AS IMPLICIT;
CREATE CAST (integer[] AS vector)
	WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS vector)
	WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS vector)
	WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS vector)
	WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

COMMENT ON FUNCTION vector(vector, integer, boolean) IS 'cast function of vector to vector(n): checks the number of dimensions';
COMMENT ON FUNCTION array_to_vector(integer[], integer, boolean) IS 'cast function of integer[] to vector';
COMMENT ON FUNCTION array_to_vector(real[], integer, boolean) IS 'cast function of real[] to vector';
COMMENT ON FUNCTION array_to_vector(double precision[], integer, boolean) IS 'cast function of double precision[] to vector';
COMMENT ON FUNCTION array_to_vector(numeric[], integer, boolean) IS 'cast function of numeric[] to vector';
COMMENT ON FUNCTION vector_to_float4(vector, integer, boolean) IS 'cast function of vector to real[]';
COMMENT ON CAST (vector AS vector) IS 'applies the type modifier vector(n) (implicit)';
COMMENT ON CAST (vector AS real[]) IS 'the elements as an array (implicit)';
COMMENT ON CAST (integer[] AS vector) IS 'a one-dimensional array without NULLs as a vector (assignment)';
COMMENT ON CAST (real[] AS vector) IS 'a one-dimensional array without NULLs as a vector (assignment)';
COMMENT ON CAST (double precision[] AS vector) IS 'a one-dimensional array without NULLs as a vector (assignment)';
COMMENT ON CAST (numeric[] AS vector) IS 'a one-dimensional array without NULLs as a vector (assignment)';

-- operators

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);
CREATE OPERATOR + (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add,
	COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_sub
);
CREATE OPERATOR * (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_mul,
	COMMUTATOR = *
);
CREATE OPERATOR || (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_concat
);

CREATE OPERATOR < (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS vector_ops
	DEFAULT FOR TYPE vector USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 vector_cmp(vector, vector);

COMMENT ON OPERATOR <-> (vector, vector) IS 'Euclidean (L2) distance';
COMMENT ON OPERATOR <#> (vector, vector) IS 'negative inner product';
COMMENT ON OPERATOR <=> (vector, vector) IS 'cosine distance: 1 - cosine similarity, NaN if either vector is zero';
COMMENT ON OPERATOR <+> (vector, vector) IS 'taxicab (L1) distance';
COMMENT ON OPERATOR + (vector, vector) IS 'element-wise sum';
COMMENT ON OPERATOR - (vector, vector) IS 'element-wise difference';
COMMENT ON OPERATOR * (vector, vector) IS 'element-wise product';
COMMENT ON OPERATOR || (vector, vector) IS 'concatenation';
COMMENT ON OPERATOR < (vector, vector) IS 'less than: element-wise order, then length';
COMMENT ON OPERATOR <= (vector, vector) IS 'less than or equal: element-wise order, then length';
COMMENT ON OPERATOR = (vector, vector) IS 'equal: same length and elements';
COMMENT ON OPERATOR <> (vector, vector) IS 'not equal';
COMMENT ON OPERATOR >= (vector, vector) IS 'greater than or equal: element-wise order, then length';
COMMENT ON OPERATOR > (vector, vector) IS 'greater than: element-wise order, then length';
COMMENT ON OPERATOR CLASS vector_ops USING btree IS 'default btree operator class of vector: element-wise order, then length';
COMMENT ON OPERATOR FAMILY vector_ops USING btree IS 'btree operator family of vector (operator class vector_ops)';

-- the hybrid index access method

CREATE FUNCTION hybrid_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION hybrid_handler(internal) IS 'handler of the hybrid index access method';

CREATE ACCESS METHOD hybrid TYPE INDEX HANDLER hybrid_handler;
COMMENT ON ACCESS METHOD hybrid IS 'exact k-nearest-neighbour search on GPU or CPU';

CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING hybrid AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l2_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hybrid AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hybrid AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(vector, vector);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING hybrid AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);

COMMENT ON OPERATOR CLASS vector_l2_ops USING hybrid IS 'hybrid index: exact ORDER BY Euclidean distance <-> (default)';
COMMENT ON OPERATOR CLASS vector_ip_ops USING hybrid IS 'hybrid index: exact ORDER BY negative inner product <#>';
COMMENT ON OPERATOR CLASS vector_cosine_ops USING hybrid IS 'hybrid index: exact ORDER BY cosine distance <=>';
COMMENT ON OPERATOR CLASS vector_l1_ops USING hybrid IS 'hybrid index: exact ORDER BY taxicab distance <+>';
COMMENT ON OPERATOR FAMILY vector_l2_ops USING hybrid IS 'hybrid operator family of operator class vector_l2_ops';
COMMENT ON OPERATOR FAMILY vector_ip_ops USING hybrid IS 'hybrid operator family of operator class vector_ip_ops';
COMMENT ON OPERATOR FAMILY vector_cosine_ops USING hybrid IS 'hybrid operator family of operator class vector_cosine_ops';
COMMENT ON OPERATOR FAMILY vector_l1_ops USING hybrid IS 'hybrid operator family of operator class vector_l1_ops';

-- observability

CREATE FUNCTION hybridsearch_index_stats(index regclass,
	OUT rows bigint, OUT null_rows bigint, OUT dead_rows bigint,
	OUT dimensions integer, OUT search_precision text,
	OUT cpu_cached_rows bigint, OUT cpu_cached_bytes bigint,
	OUT cpu_scans bigint, OUT gpu_scans bigint, OUT gpu_fallbacks bigint,
	OUT mean_scan_ms double precision, OUT p95_scan_ms double precision,
	OUT gpu_resident_rows bigint, OUT gpu_resident_bytes bigint,
	OUT mean_gpu_batch double precision, OUT mean_gpu_kernel_ms double precision,
	OUT stats_scope text)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hybridsearch_index_stats(regclass) IS 'size, cache use, scan counts and scan times of one hybrid index';

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

-- Checks an index against its pages and its table (like amcheck); raises
-- index_corrupted at the first problem.  Only the table's owner may run it.
CREATE FUNCTION hybridsearch_verify(index regclass,
	OUT entries bigint, OUT live_entries bigint, OUT dead_entries bigint,
	OUT null_entries bigint, OUT heap_tuples bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hybridsearch_verify(regclass) IS 'checks a hybrid index against its pages and its table; raises index_corrupted (XX002) at the first problem, else returns its entry counts';

-- The GPU worker: its pid (NULL when none runs), whether its device is
-- ready, why not, and the index copies it holds.
CREATE FUNCTION hybridsearch_gpu_status(
	OUT worker_pid integer, OUT ready boolean, OUT status text,
	OUT resident_indexes bigint, OUT resident_bytes bigint,
	OUT devices integer[], OUT parts_per_index integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hybridsearch_gpu_status() IS 'the GPU worker: its pid, whether its devices are ready, why not, the index copies it holds, the devices and how many parts each copy is split in';

-- hybrid ranking

-- Reciprocal rank fusion of two ranked lists of ids: typically a full-text
-- ranking (tsvector @@ tsquery ORDER BY ts_rank_cd) and a vector ranking
-- (ORDER BY embedding <=> $1, served exactly by a hybrid index).  Each id
-- comes back once with score = sum over the lists it is in of 1/(k + rank),
-- rank being its 1-based position in that list (an id repeated within one
-- list counts at its first position only; later ones are ignored and do not
-- shift the others); text_rank and vector_rank are NULL where it is absent.
-- Rows come ordered by score descending, then id.  A NULL list counts as an
-- empty one, so the function is not STRICT; a NULL element, a multi-
-- dimensional list, and a NULL or non-positive k are errors.  Scores are
-- float8 sums of the two terms, text first: equal rank pairs give bit-equal
-- scores, so ties are exact and broken by id.
CREATE FUNCTION hybridsearch_rrf(text_ranked bigint[], vector_ranked bigint[],
	k integer DEFAULT 60,
	OUT id bigint, OUT score double precision,
	OUT text_rank integer, OUT vector_rank integer)
	RETURNS SETOF record
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 100
	AS $$
BEGIN
	IF k IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k <= 0 THEN
		RAISE EXCEPTION 'k must be greater than zero'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('k is %s.', k);
	END IF;
	IF array_ndims(text_ranked) > 1 THEN
		RAISE EXCEPTION 'text_ranked must be a one-dimensional array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF array_ndims(vector_ranked) > 1 THEN
		RAISE EXCEPTION 'vector_ranked must be a one-dimensional array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF array_position(text_ranked, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'text_ranked must not contain NULL elements'
			USING ERRCODE = 'null_value_not_allowed',
				DETAIL = format('Element %s is NULL.',
					array_position(text_ranked, NULL) - array_lower(text_ranked, 1) + 1);
	END IF;
	IF array_position(vector_ranked, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'vector_ranked must not contain NULL elements'
			USING ERRCODE = 'null_value_not_allowed',
				DETAIL = format('Element %s is NULL.',
					array_position(vector_ranked, NULL) - array_lower(vector_ranked, 1) + 1);
	END IF;

	RETURN QUERY
	WITH t AS (
		SELECT u.id, min(u.r) AS r
		FROM unnest(text_ranked) WITH ORDINALITY AS u(id, r)
		GROUP BY u.id
	), v AS (
		SELECT u.id, min(u.r) AS r
		FROM unnest(vector_ranked) WITH ORDINALITY AS u(id, r)
		GROUP BY u.id
	), f AS (
		SELECT coalesce(t.id, v.id) AS id,
			coalesce(1::float8 / (k + t.r)::float8, 0::float8)
				+ coalesce(1::float8 / (k + v.r)::float8, 0::float8) AS score,
			t.r::integer AS text_rank, v.r::integer AS vector_rank
		FROM t FULL JOIN v ON v.id = t.id
	)
	SELECT f.id, f.score, f.text_rank, f.vector_rank
	FROM f
	ORDER BY f.score DESC, f.id;
END
$$;
COMMENT ON FUNCTION hybridsearch_rrf(bigint[], bigint[], integer) IS 'reciprocal rank fusion of a text and a vector ranking of ids: score = sum of 1/(k + rank), ordered by score descending, then id';

-- scale-out

-- The k nearest rows of a table partitioned over several servers, each leaf
-- partition a postgres_fdw foreign table (or a local table).  A plain
-- "ORDER BY col <op> q LIMIT k" on the parent is planned in PostgreSQL 15 as
-- a Merge Append over the partitions: each shard gets the ORDER BY but not
-- the LIMIT, so it ships a whole fetch_size batch, and the shards are started
-- one after another.  Here every leaf gets its own "ORDER BY col <op> q
-- LIMIT k", so the LIMIT is pushed down as well, and the branches meet in a
-- plain Append inside a MATERIALIZED CTE: Append is the only node that runs
-- foreign scans asynchronously (async_capable), and the CTE keeps the planner
-- from turning it back into a Merge Append of the sorted branches.  Each
-- branch selects its distance, so no projection sits between the Append and
-- the foreign scan, which would keep the scan synchronous.  The union of
-- every leaf's k nearest holds the table's k nearest, so the answer is the
-- unsharded one, up to the order of equal distances.
--
-- The leaves are read directly with the caller's privileges, so the caller
-- needs SELECT on them; a parent with row-level security is refused, since
-- its policies would not apply.  filter is SQL text, spliced into every
-- branch like the query's own WHERE clause ($1 in it is the query vector):
-- never pass untrusted input.
CREATE FUNCTION hybridsearch_sharded_search(parent anyelement, column_name name,
	operator text, query vector, k integer, filter text DEFAULT NULL)
	RETURNS SETOF anyelement
	LANGUAGE plpgsql STABLE ROWS 10
	AS $$
DECLARE
	rel oid;
	kind "char";
	rls boolean;
	vtype oid := pg_typeof(query);
	op text;
	cols text;
	aliases text;
	branches text;
BEGIN
	SELECT c.oid, c.relkind, c.relrowsecurity INTO rel, kind, rls
	FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
	WHERE t.oid = pg_typeof(parent);
	IF rel IS NULL OR kind NOT IN ('r', 'p', 'f') THEN
		RAISE EXCEPTION 'parent must be the row type of a table, such as NULL::items'
			USING ERRCODE = 'wrong_object_type',
				DETAIL = format('The type is %s.', pg_typeof(parent));
	END IF;
	IF rls THEN
		RAISE EXCEPTION 'table "%" has row-level security enabled', rel::regclass
			USING ERRCODE = 'feature_not_supported',
				HINT = 'Its policies would not apply to the partitions read directly; query the table itself.';
	END IF;
	IF column_name IS NULL THEN
		RAISE EXCEPTION 'column_name must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (
			SELECT FROM pg_attribute a
			WHERE a.attrelid = rel AND a.attname = column_name
			  AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION 'column "%" of table "%" does not exist', column_name, rel::regclass
			USING ERRCODE = 'undefined_column';
	END IF;
	IF NOT EXISTS (
			SELECT FROM pg_attribute a
			WHERE a.attrelid = rel AND a.attname = column_name AND a.atttypid = vtype) THEN
		RAISE EXCEPTION 'column "%" of table "%" is not of type vector', column_name, rel::regclass
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	-- Schema-qualified, so the branches resolve our operator whatever the
	-- search_path (the extension is relocatable).
	SELECT format('OPERATOR(%I.%s)', o.oprnamespace::regnamespace, o.oprname) INTO op
	FROM pg_operator o
	WHERE o.oprname = operator AND operator IN ('<->', '<#>', '<=>', '<+>')
	  AND o.oprleft = vtype AND o.oprright = vtype;
	IF op IS NULL THEN
		RAISE EXCEPTION 'operator must be one of <->, <#>, <=>, <+>'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('The operator is %L.', operator);
	END IF;
	IF k IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k <= 0 THEN
		RAISE EXCEPTION 'k must be greater than zero'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('k is %s.', k);
	END IF;

	-- The parent's columns by name, in its order: a partition may order
	-- them differently.  The outer query renames them c1, c2, ... so that no
	-- column name can clash with the distance's.
	SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum),
		string_agg(format('c%s', a.attnum), ', ' ORDER BY a.attnum)
	INTO cols, aliases
	FROM pg_attribute a
	WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;

	SELECT string_agg(format(
		'(SELECT %s, %I %s $1 FROM %s%s ORDER BY %I %s $1 LIMIT %s)',
		cols, column_name, op, leaf::regclass,
		CASE WHEN filter IS NOT NULL THEN format(' WHERE (%s)', filter) ELSE '' END,
		column_name, op, k), ' UNION ALL ')
	INTO branches
	FROM (SELECT p.relid AS leaf FROM pg_partition_tree(rel) p
		  WHERE kind = 'p' AND p.isleaf
		  UNION ALL
		  SELECT rel WHERE kind <> 'p') l;
	IF branches IS NULL THEN
		RETURN;		-- a partitioned table without partitions
	END IF;

	RETURN QUERY EXECUTE format(
		'WITH s AS MATERIALIZED (%s) SELECT %s FROM s AS s(%s, distance) ORDER BY distance LIMIT %s',
		branches, aliases, aliases, k)
	USING query;
END
$$;
COMMENT ON FUNCTION hybridsearch_sharded_search(anyelement, name, text, vector, integer, text) IS 'the k rows of a table partitioned over postgres_fdw servers nearest to query, ORDER BY and LIMIT pushed to every partition, run at once';
