/* hybridsearch 0.2.0 -> 0.3.0: ALTER EXTENSION hybridsearch UPDATE */
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hybridsearch UPDATE TO '0.3.0'" to load this file. \quit

-- A fresh CREATE EXTENSION runs hybridsearch--0.1.0.sql, then
-- hybridsearch--0.1.0--0.2.0.sql, then this script: every object added
-- since 0.2.0 is defined here once.

-- Batched search (issue 15): many queries in one statement, their first
-- candidates picked by one sgemm pass on the CPU; and how often concurrent
-- scans shared a pass.
CREATE FUNCTION hybridsearch_search_batch(index regclass, queries vector[], k integer,
	OUT query integer, OUT tid tid, OUT distance double precision)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED ROWS 1000;
COMMENT ON FUNCTION hybridsearch_search_batch(regclass, vector[], integer) IS 'the k nearest rows of the index''s table for each query, as (query number, heap TID, distance), exactly as each query''s ORDER BY ... LIMIT k';

CREATE FUNCTION hybridsearch_batch_stats(
	OUT batched_passes bigint, OUT batched_queries bigint,
	OUT lone_passes bigint, OUT largest_batch integer, OUT slots_in_use integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION hybridsearch_batch_stats() IS 'since start-up: CPU passes concurrent scans shared, the scans they served, passes that ran alone, the largest batch; and the batch slots searches hold now';

-- hybrid operator classes over halfvec, bit and sparsevec (pgvector 0.8's
-- names).  Their indexes store each value as it is and score rows with the
-- operator's own function, so a scan returns what a sequential scan does.

CREATE OPERATOR CLASS halfvec_l2_ops
	DEFAULT FOR TYPE halfvec USING hybrid AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 l2_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_ip_ops
	FOR TYPE halfvec USING hybrid AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_cosine_ops
	FOR TYPE halfvec USING hybrid AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(halfvec, halfvec);

CREATE OPERATOR CLASS halfvec_l1_ops
	FOR TYPE halfvec USING hybrid AS
	OPERATOR 1 <+> (halfvec, halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(halfvec, halfvec);

CREATE OPERATOR CLASS bit_hamming_ops
	DEFAULT FOR TYPE bit USING hybrid AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hamming_distance(bit, bit);

CREATE OPERATOR CLASS bit_jaccard_ops
	FOR TYPE bit USING hybrid AS
	OPERATOR 1 <%> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 jaccard_distance(bit, bit);

CREATE OPERATOR CLASS sparsevec_l2_ops
	DEFAULT FOR TYPE sparsevec USING hybrid AS
	OPERATOR 1 <-> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 l2_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_ip_ops
	FOR TYPE sparsevec USING hybrid AS
	OPERATOR 1 <#> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 sparsevec_negative_inner_product(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_cosine_ops
	FOR TYPE sparsevec USING hybrid AS
	OPERATOR 1 <=> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(sparsevec, sparsevec);

CREATE OPERATOR CLASS sparsevec_l1_ops
	FOR TYPE sparsevec USING hybrid AS
	OPERATOR 1 <+> (sparsevec, sparsevec) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(sparsevec, sparsevec);

COMMENT ON OPERATOR CLASS halfvec_l2_ops USING hybrid IS 'hybrid index: exact ORDER BY Euclidean distance <-> of halfvec (default)';
COMMENT ON OPERATOR CLASS halfvec_ip_ops USING hybrid IS 'hybrid index: exact ORDER BY negative inner product <#> of halfvec';
COMMENT ON OPERATOR CLASS halfvec_cosine_ops USING hybrid IS 'hybrid index: exact ORDER BY cosine distance <=> of halfvec';
COMMENT ON OPERATOR CLASS halfvec_l1_ops USING hybrid IS 'hybrid index: exact ORDER BY taxicab distance <+> of halfvec';
COMMENT ON OPERATOR CLASS bit_hamming_ops USING hybrid IS 'hybrid index: exact ORDER BY Hamming distance <~> of bit (default)';
COMMENT ON OPERATOR CLASS bit_jaccard_ops USING hybrid IS 'hybrid index: exact ORDER BY Jaccard distance <%> of bit';
COMMENT ON OPERATOR CLASS sparsevec_l2_ops USING hybrid IS 'hybrid index: exact ORDER BY Euclidean distance <-> of sparsevec (default)';
COMMENT ON OPERATOR CLASS sparsevec_ip_ops USING hybrid IS 'hybrid index: exact ORDER BY negative inner product <#> of sparsevec';
COMMENT ON OPERATOR CLASS sparsevec_cosine_ops USING hybrid IS 'hybrid index: exact ORDER BY cosine distance <=> of sparsevec';
COMMENT ON OPERATOR CLASS sparsevec_l1_ops USING hybrid IS 'hybrid index: exact ORDER BY taxicab distance <+> of sparsevec';
COMMENT ON OPERATOR FAMILY halfvec_l2_ops USING hybrid IS 'hybrid operator family of operator class halfvec_l2_ops';
COMMENT ON OPERATOR FAMILY halfvec_ip_ops USING hybrid IS 'hybrid operator family of operator class halfvec_ip_ops';
COMMENT ON OPERATOR FAMILY halfvec_cosine_ops USING hybrid IS 'hybrid operator family of operator class halfvec_cosine_ops';
COMMENT ON OPERATOR FAMILY halfvec_l1_ops USING hybrid IS 'hybrid operator family of operator class halfvec_l1_ops';
COMMENT ON OPERATOR FAMILY bit_hamming_ops USING hybrid IS 'hybrid operator family of operator class bit_hamming_ops';
COMMENT ON OPERATOR FAMILY bit_jaccard_ops USING hybrid IS 'hybrid operator family of operator class bit_jaccard_ops';
COMMENT ON OPERATOR FAMILY sparsevec_l2_ops USING hybrid IS 'hybrid operator family of operator class sparsevec_l2_ops';
COMMENT ON OPERATOR FAMILY sparsevec_ip_ops USING hybrid IS 'hybrid operator family of operator class sparsevec_ip_ops';
COMMENT ON OPERATOR FAMILY sparsevec_cosine_ops USING hybrid IS 'hybrid operator family of operator class sparsevec_cosine_ops';
COMMENT ON OPERATOR FAMILY sparsevec_l1_ops USING hybrid IS 'hybrid operator family of operator class sparsevec_l1_ops';
