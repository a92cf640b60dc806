/*
 * hybrid_handler.c
 *	  The hybrid access method's handler, its options and how an index
 *	  finds its metric and precision.
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/reloptions.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "commands/vacuum.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "index/hybrid.h"

PG_FUNCTION_INFO_V1(hybrid_handler);

/* the SQL distance functions, to recognise an operator class's metric */
extern Datum l2_distance(PG_FUNCTION_ARGS);
extern Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum cosine_distance(PG_FUNCTION_ARGS);
extern Datum l1_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l2_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum halfvec_cosine_distance(PG_FUNCTION_ARGS);
extern Datum halfvec_l1_distance(PG_FUNCTION_ARGS);

static relopt_kind hybrid_relopt_kind;

static relopt_enum_elt_def precision_values[] = {
	{"full", PRECISION_FULL},
	{"half", PRECISION_HALF},
	{NULL}
};

void
hybrid_init_reloptions(void)
{
	hybrid_relopt_kind = add_reloption_kind();
	add_enum_reloption(hybrid_relopt_kind, "precision",
					   "Precision of the fast search pass (full or half)",
					   precision_values, PRECISION_FULL,
					   "Valid values are \"full\" and \"half\".",
					   AccessExclusiveLock);
}

bytea *
hybrid_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt table[] = {
		{"precision", RELOPT_TYPE_ENUM, offsetof(HybridOptions, precision)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hybrid_relopt_kind,
									  sizeof(HybridOptions), table, lengthof(table));
}

/*
 * The index's precision option; without options, half for a halfvec index,
 * whose values fp16 holds as they are (its copy then takes half the bytes).
 */
HybridPrecision
hybrid_index_precision(Relation index)
{
	HybridOptions *options = (HybridOptions *) index->rd_options;

	if (options)
		return (HybridPrecision) options->precision;
	return hybrid_index_kind(index) == KIND_HALF ? PRECISION_HALF : PRECISION_FULL;
}

/*
 * The metric of the index's operator class, from its support function 1.
 * The halfvec functions are vector's on the values converted to float4.
 */
DistanceMetric
hybrid_index_metric(Relation index)
{
	PGFunction	function = index_getprocinfo(index, 1, 1)->fn_addr;

	if (function == l2_distance || function == halfvec_l2_distance)
		return METRIC_L2;
	if (function == vector_negative_inner_product || function == halfvec_negative_inner_product)
		return METRIC_INNER_PRODUCT;
	if (function == cosine_distance || function == halfvec_cosine_distance)
		return METRIC_COSINE;
	if (function == l1_distance || function == halfvec_l1_distance)
		return METRIC_L1;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("operator class of index \"%s\" has an unsupported distance function",
					RelationGetRelationName(index))));
	return METRIC_L2;			/* keep compiler quiet */
}

Datum
hybrid_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 1;
	am->amsupport = 1;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = hybrid_build;
	am->ambuildempty = hybrid_buildempty;
	am->aminsert = hybrid_insert;
	am->ambulkdelete = hybrid_bulkdelete;
	am->amvacuumcleanup = hybrid_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = hybrid_costestimate;
	am->amoptions = hybrid_options;
	am->amproperty = NULL;
	am->ambuildphasename = NULL;
	am->amvalidate = hybrid_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = hybrid_beginscan;
	am->amrescan = hybrid_rescan;
	am->amgettuple = hybrid_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = hybrid_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/*
 * The errors for an index opened as a hybrid index: another access
 * method's, or a partitioned one, which holds no rows of its own (HINT
 * says what to name instead).
 */
void
hybrid_require_index(Relation index, const char *partitioned_hint)
{
	if (index->rd_rel->relam != get_index_am_oid("hybrid", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a hybrid index", RelationGetRelationName(index))));
	if (index->rd_rel->relkind != RELKIND_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a partitioned index", RelationGetRelationName(index)),
				 errhint("%s", partitioned_hint)));
}

/*
 * Open a hybrid index that the caller may read, for the functions that
 * report on or load one: what an index holds is its table's business.
 */
Relation
hybrid_open_readable(Oid index_oid)
{
	Relation	index;

	/* a regclass argument can name no relation: say so, not "could not open" */
	if (get_rel_relkind(index_oid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", index_oid)));
	index = index_open(index_oid, AccessShareLock);
	hybrid_require_index(index, "Name the index of one of its partitions.");
	if (pg_class_aclcheck(index->rd_index->indrelid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s",
						get_rel_name(index->rd_index->indrelid))));
	return index;
}
