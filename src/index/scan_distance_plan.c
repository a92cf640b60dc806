/*
 * scan_distance_plan.c
 *	  After the planner: a hybrid index scan's output column that is its
 *	  own ORDER BY distance reads the distance the scan computed
 *	  (scan_distance.c) before computing it again.
 *
 * The planner puts the ORDER BY expression E = "column <op> query" in the
 * scan's target list (a hidden sort column, or the distance the query
 * selects), and the executor evaluates it for every row the scan returns.
 * Every such column becomes
 *
 *	   COALESCE(hybridsearch_scan_distance(query, index, ctid), E)
 *
 * which is E's value whenever E would be evaluated: the function returns
 * only the scan's own distance for this row and query, which is the
 * operator's (hybrid_scan.c), and NULL otherwise.  COALESCE evaluates E
 * only then.  A query expression that runs a subplan or a volatile
 * function is left alone, since evaluating it twice could differ.
 * EXPLAIN VERBOSE shows the rewritten column.  Done at plan time, so a
 * cached plan keeps what hybridsearch.reuse_scan_distances was when it
 * was planned.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "hybridsearch.h"
#include "index/hybrid.h"
#include "index/scan_distance.h"

static planner_hook_type prev_planner_hook = NULL;

/* The hybrid access method's handler when INDEX_OID is a hybrid index. */
static Oid
hybrid_handler_of(Oid index_oid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(index_oid));
	Oid			am_oid;
	Oid			handler;
	FmgrInfo	handler_info;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	am_oid = ((Form_pg_class) GETSTRUCT(tuple))->relam;
	ReleaseSysCache(tuple);

	tuple = SearchSysCache1(AMOID, ObjectIdGetDatum(am_oid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	handler = ((Form_pg_am) GETSTRUCT(tuple))->amhandler;
	ReleaseSysCache(tuple);

	fmgr_info(handler, &handler_info);
	return handler_info.fn_addr == hybrid_handler ? handler : InvalidOid;
}

/*
 * hybridsearch_scan_distance for QUERY_TYPE, in the extension's schema
 * (the handler's); InvalidOid when this version of the extension has none.
 */
static Oid
scan_distance_function(Oid handler, Oid query_type)
{
	char	   *schema = get_namespace_name(get_func_namespace(handler));
	Oid			arg_types[3] = {query_type, REGCLASSOID, TIDOID};

	if (schema == NULL)
		return InvalidOid;
	return LookupFuncName(list_make2(makeString(schema), makeString("hybridsearch_scan_distance")),
						  3, arg_types, true);
}

/* COALESCE(hybridsearch_scan_distance(query, index, ctid), distance) */
static Expr *
reused_distance(Oid function, Expr *distance, Expr *query, Oid index_oid, Index scan_relid)
{
	Const	   *index = makeConst(REGCLASSOID, -1, InvalidOid, sizeof(Oid),
								  ObjectIdGetDatum(index_oid), false, true);
	Var		   *ctid = makeVar(scan_relid, SelfItemPointerAttributeNumber, TIDOID, -1, InvalidOid, 0);
	FuncExpr   *lookup = makeFuncExpr(function, FLOAT8OID,
									  list_make3(copyObject(query), index, ctid),
									  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	CoalesceExpr *coalesce = makeNode(CoalesceExpr);

	coalesce->coalescetype = FLOAT8OID;
	coalesce->coalescecollid = InvalidOid;
	coalesce->args = list_make2(lookup, distance);
	coalesce->location = -1;
	return (Expr *) coalesce;
}

/* A cached plan that calls FUNCTION is replanned when FUNCTION changes. */
static void
depend_on_function(PlannedStmt *stmt, Oid function)
{
	PlanInvalItem *item = makeNode(PlanInvalItem);

	item->cacheId = PROCOID;
	item->hashValue = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(function));
	stmt->invalItems = lappend(stmt->invalItems, item);
}

/* The index scan's output columns that are its ORDER BY distance. */
static void
rewrite_index_scan(IndexScan *scan, PlannedStmt *stmt)
{
	OpExpr	   *order;
	Expr	   *query;
	Oid			handler;
	Oid			left_type;
	Oid			query_type;
	Oid			function;
	ListCell   *cell;

	if (list_length(scan->indexorderbyorig) != 1 || !IsA(linitial(scan->indexorderbyorig), OpExpr))
		return;
	order = linitial_node(OpExpr, scan->indexorderbyorig);
	if (list_length(order->args) != 2 || order->opresulttype != FLOAT8OID)
		return;
	query = lsecond(order->args);
	if (contain_subplans((Node *) query) || contain_volatile_functions((Node *) query))
		return;
	handler = hybrid_handler_of(scan->indexid);
	if (!OidIsValid(handler))
		return;
	op_input_types(order->opno, &left_type, &query_type);
	function = scan_distance_function(handler, query_type);
	if (!OidIsValid(function))
		return;

	foreach(cell, scan->scan.plan.targetlist)
	{
		TargetEntry *entry = lfirst_node(TargetEntry, cell);

		if (equal(entry->expr, order))
		{
			entry->expr = reused_distance(function, entry->expr, query,
										  scan->indexid, scan->scan.scanrelid);
			depend_on_function(stmt, function);
		}
	}
}

static void rewrite_plan(Plan *plan, PlannedStmt *stmt);

static void
rewrite_plans(List *plans, PlannedStmt *stmt)
{
	ListCell   *cell;

	foreach(cell, plans)
		rewrite_plan((Plan *) lfirst(cell), stmt);
}

/* Every plan node of the tree: those with children outside lefttree and righttree too. */
static void
rewrite_plan(Plan *plan, PlannedStmt *stmt)
{
	if (plan == NULL)
		return;
	check_stack_depth();
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			rewrite_index_scan((IndexScan *) plan, stmt);
			break;
		case T_Append:
			rewrite_plans(((Append *) plan)->appendplans, stmt);
			break;
		case T_MergeAppend:
			rewrite_plans(((MergeAppend *) plan)->mergeplans, stmt);
			break;
		case T_SubqueryScan:
			rewrite_plan(((SubqueryScan *) plan)->subplan, stmt);
			break;
		case T_CustomScan:
			rewrite_plans(((CustomScan *) plan)->custom_plans, stmt);
			break;
		default:
			break;
	}
	rewrite_plan(plan->lefttree, stmt);
	rewrite_plan(plan->righttree, stmt);
}

static PlannedStmt *
scan_distance_planner(Query *parse, const char *query_string, int cursor_options,
					  ParamListInfo bound_params)
{
	PlannedStmt *stmt = prev_planner_hook ?
		prev_planner_hook(parse, query_string, cursor_options, bound_params) :
		standard_planner(parse, query_string, cursor_options, bound_params);

	if (hybridsearch_reuse_scan_distances)
	{
		rewrite_plan(stmt->planTree, stmt);
		rewrite_plans(stmt->subplans, stmt);
	}
	return stmt;
}

void
scan_distance_plan_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = scan_distance_planner;
}
