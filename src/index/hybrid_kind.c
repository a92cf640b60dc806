/*
 * hybrid_kind.c
 *	  What an index's entries hold, by the type its operator class indexes:
 *	  float4 values for vector and halfvec, the value's own bytes for bit
 *	  and sparsevec (see hybrid.h).
 *
 * A halfvec converts to float4 exactly, and its operators are vector's
 * functions on those float4 values, so a halfvec index is a vector index
 * in everything but its query type: copies (fp16 by default), the GPU and
 * exact re-scoring work unchanged.  bit and sparsevec values are stored as
 * they are, and a scan scores a row with the operator's own function on
 * them.  The entry header's dim counts 4-byte words, so the stream's
 * layout, its readers and VACUUM are those of vector indexes.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/varbit.h"

#include "index/hybrid.h"
#include "type/halfvec.h"
#include "type/sparsevec.h"

/*
 * An entry holds at most VECTOR_MAX_DIM words: bit strings of up to 64000
 * bits (pgvector's limit for bit indexes) fit, and sparsevec values of up
 * to HYBRID_MAX_SPARSE_NNZ non-zero elements.
 */
#define HYBRID_MAX_BITS			64000
#define HYBRID_MAX_SPARSE_NNZ \
	((int) ((VECTOR_MAX_DIM * sizeof(float) - SPARSEVEC_SIZE(0)) / (sizeof(int32) + sizeof(float))))

StaticAssertDecl(VARBITTOTALLEN(HYBRID_MAX_BITS) <= VECTOR_MAX_DIM * sizeof(float),
				 "the longest indexable bit string fits an entry");

/* The kind of entries an index of the given operator class input type holds. */
static ElementKind
kind_of_type(Oid type)
{
	HeapTuple	tuple;
	const char *name;
	ElementKind kind = KIND_FLOAT32;

	if (type == BITOID)
		return KIND_BIT;
	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	name = NameStr(((Form_pg_type) GETSTRUCT(tuple))->typname);
	if (strcmp(name, "halfvec") == 0)
		kind = KIND_HALF;
	else if (strcmp(name, "sparsevec") == 0)
		kind = KIND_SPARSE;
	ReleaseSysCache(tuple);
	return kind;
}

ElementKind
hybrid_index_kind(Relation index)
{
	return kind_of_type(index->rd_opcintype[0]);
}

/* Whether entries of the kind hold float4 values (one word a dimension). */
bool
hybrid_kind_is_dense(ElementKind kind)
{
	return kind == KIND_FLOAT32 || kind == KIND_HALF;
}

const char *
hybrid_kind_type_name(ElementKind kind)
{
	switch (kind)
	{
		case KIND_FLOAT32:
			return "vector";
		case KIND_HALF:
			return "halfvec";
		case KIND_BIT:
			return "bit";
		case KIND_SPARSE:
			return "sparsevec";
	}
	return "vector";
}

/* The most dimensions an index of the kind can hold (its metapage's limit). */
int
hybrid_kind_max_dim(ElementKind kind)
{
	switch (kind)
	{
		case KIND_FLOAT32:
		case KIND_HALF:
			return VECTOR_MAX_DIM;
		case KIND_BIT:
			return HYBRID_MAX_BITS;
		case KIND_SPARSE:
			return SPARSEVEC_MAX_DIM;
	}
	return VECTOR_MAX_DIM;
}

/* The dimensions of a value of the kind: elements, bits, or the sparse length. */
int
hybrid_value_dim(ElementKind kind, const void *value)
{
	switch (kind)
	{
		case KIND_FLOAT32:
			return ((const Vector *) value)->dim;
		case KIND_HALF:
			return ((const HalfVector *) value)->dim;
		case KIND_BIT:
			return VARBITLEN((const VarBit *) value);
		case KIND_SPARSE:
			return ((const SparseVector *) value)->dim;
	}
	return 0;
}

static void
check_limits(Relation index, ElementKind kind, const void *value)
{
	if (kind == KIND_BIT && VARBITLEN((const VarBit *) value) > HYBRID_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hybrid index \"%s\" cannot hold bit strings of more than %d bits",
						RelationGetRelationName(index), HYBRID_MAX_BITS)));
	if (kind == KIND_SPARSE && ((const SparseVector *) value)->nnz > HYBRID_MAX_SPARSE_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hybrid index \"%s\" cannot hold sparsevec values of more than %d non-zero elements",
						RelationGetRelationName(index), HYBRID_MAX_SPARSE_NNZ)));
}

/*
 * What the entry of a non-NULL indexed value holds: float4 values for a
 * vector or a halfvec, else the detoasted value itself (4-byte header
 * included), padded to whole words.  Raises the index's limits on bit
 * length and non-zeros.
 */
EntryPayload
hybrid_entry_payload(Relation index, ElementKind kind, Datum value)
{
	EntryPayload payload;
	struct varlena *detoasted = PG_DETOAST_DATUM(value);

	if (hybrid_kind_is_dense(kind))
	{
		int			dim = hybrid_value_dim(kind, detoasted);

		payload.data = kind == KIND_HALF ?
			halfvec_to_floats((HalfVector *) detoasted) : ((Vector *) detoasted)->x;
		payload.bytes = sizeof(float) * dim;
		payload.words = dim;
		payload.dim = dim;
		return payload;
	}
	check_limits(index, kind, detoasted);
	payload.data = detoasted;
	payload.bytes = VARSIZE(detoasted);
	payload.words = (payload.bytes + sizeof(float) - 1) / sizeof(float);
	payload.dim = hybrid_value_dim(kind, detoasted);
	return payload;
}

/*
 * Whether the words of a live bit or sparsevec entry hold a well-formed
 * value: a varlena of as many words, with the index's dimensions.  For
 * hybridsearch_verify; float4 entries are checked value by value there.
 */
bool
hybrid_payload_valid(ElementKind kind, const void *words, int word_count, int index_dim)
{
	Size		size;

	if (word_count < 1)
		return false;
	size = VARSIZE(words);
	if ((size + sizeof(float) - 1) / sizeof(float) != (Size) word_count)
		return false;
	switch (kind)
	{
		case KIND_FLOAT32:
		case KIND_HALF:
			return false;
		case KIND_BIT:
			return size >= VARHDRSZ + VARBITHDRSZ &&
				size == VARBITTOTALLEN(VARBITLEN((const VarBit *) words)) &&
				VARBITLEN((const VarBit *) words) == index_dim;
		case KIND_SPARSE:
			return size >= SPARSEVEC_SIZE(0) &&
				((const SparseVector *) words)->nnz >= 0 &&
				size == SPARSEVEC_SIZE(((const SparseVector *) words)->nnz) &&
				((const SparseVector *) words)->dim == index_dim;
	}
	return false;
}
