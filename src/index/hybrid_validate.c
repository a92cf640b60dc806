/*
 * hybrid_validate.c
 *	  amvalidate: an operator class of the hybrid access method has one
 *	  ordering operator (strategy 1) over vectors and one support function,
 *	  the matching distance function (vector, vector) -> float8.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "index/hybrid.h"

static bool
validate_members(Oid family, const char *opclass_name)
{
	CatCList   *operators = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(family));
	CatCList   *procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
	bool		ok = true;

	for (int i = 0; i < operators->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&operators->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("hybrid operator class \"%s\" has operator %s with strategy %d; only ordering operators with strategy 1 are supported",
							opclass_name, format_operator(op->amopopr), op->amopstrategy)));
			ok = false;
		}
	}
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);

		if (proc->amprocnum != 1 || get_func_rettype(proc->amproc) != FLOAT8OID)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("hybrid operator class \"%s\" has invalid support function %s",
							opclass_name, format_procedure(proc->amproc))));
			ok = false;
		}
	}
	if (operators->n_members != 1 || procs->n_members != 1)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("hybrid operator class \"%s\" needs one ordering operator and one support function",
						opclass_name)));
		ok = false;
	}
	ReleaseCatCacheList(operators);
	ReleaseCatCacheList(procs);
	return ok;
}

bool
hybrid_validate(Oid opclassoid)
{
	HeapTuple	tuple = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass opclass;
	bool		ok;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	opclass = (Form_pg_opclass) GETSTRUCT(tuple);
	ok = validate_members(opclass->opcfamily, NameStr(opclass->opcname));
	ReleaseSysCache(tuple);
	return ok;
}
