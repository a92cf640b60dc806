"""What a framework sends, replayed: the framework tests capture the
nearest-neighbour SELECT a library runs (SQLAlchemy's before_cursor_execute
on every engine), then run that same statement with the same parameters
under EXPLAIN and as a sequential scan."""
import contextlib

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextlib.contextmanager
def captured():
    """Yields a list that collects (statement, parameters) of every
    statement any SQLAlchemy engine (sync or async) executes meanwhile."""
    seen = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    event.listen(Engine, 'before_cursor_execute', hook)
    try:
        yield seen
    finally:
        event.remove(Engine, 'before_cursor_execute', hook)


def knn_select(seen, operator='<=>'):
    """The one SELECT ... ORDER BY ... <operator> ... LIMIT among seen."""
    hits = [(s, p) for s, p in seen
            if s.lstrip().upper().startswith('SELECT') and operator in s and 'LIMIT' in s.upper()]
    assert len(hits) == 1, [s for s, _ in seen]
    return hits[0]


def explain(conn, statement, parameters):
    return '\n'.join(r[0] for r in conn.exec_driver_sql('EXPLAIN ' + statement, parameters))


def replay(conn, statement, parameters):
    """On a SQLAlchemy (sync) connection: the plan of the statement, then
    its rows and plan with index scans turned off (a sequential scan)."""
    plan = explain(conn, statement, parameters)
    conn.exec_driver_sql('SET LOCAL enable_indexscan = off')
    conn.exec_driver_sql('SET LOCAL enable_bitmapscan = off')
    seq_plan = explain(conn, statement, parameters)
    rows = conn.exec_driver_sql(statement, parameters).fetchall()
    conn.rollback()
    return plan, seq_plan, rows


def assert_exact(plan, seq_plan, index, got_ids, seq_ids, k):
    """The library's query ran through the hybrid index and returned what
    the sequential scan of the same statement returns."""
    assert 'Index Scan using %s' % index in plan, plan
    assert index not in seq_plan and 'Seq Scan' in seq_plan, seq_plan
    assert len(got_ids) == k
    assert list(got_ids) == list(seq_ids)
