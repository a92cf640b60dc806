"""pgvector's Python client libraries against hybridsearch, unchanged.

psycopg 3 with ``pgvector.psycopg.register_vector`` and SQLAlchemy 2 with
``pgvector.sqlalchemy.Vector``, against a server where ``CREATE EXTENSION
hybridsearch`` (not ``vector``) provides the ``vector`` type, and against
``hybrid`` indexes.  Values go in and come back bit for bit, as text and as
binary (parameters, results, COPY); nearest-neighbour queries go through the
index (EXPLAIN says so), equal a sequential scan exactly and a numpy brute
force up to float rounding; errors come back with pgvector's SQLSTATEs.

Starts no server: libpq's PGHOST, PGPORT, PGUSER and PGDATABASE name one
where the user may CREATE EXTENSION (test/run-suites provides a throw-away
cluster).  Every test works in a schema of its own, dropped afterwards.

    /opt/hybridsearch-test-venv/bin/python -m pytest -v test/clients
"""
import math

import numpy as np
import psycopg
import pytest
import sqlalchemy
from psycopg import errors
from psycopg.types import TypeInfo
from pgvector import Vector as PgVector
from pgvector.psycopg import register_vector
from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, Column, Index, event, select, text
from sqlalchemy.orm import Session, declarative_base

DIM = 32          # psycopg tests
ROWS = 2000
K = 10
SEED = 20240611


def cosine_distances(x, q):
    with np.errstate(invalid='ignore', divide='ignore'):   # zero vectors: NaN
        return 1 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))


# the four operator classes: operator, numpy distance of every row of x to q
OPCLASSES = {
    'vector_l2_ops': ('<->', lambda x, q: np.sqrt(((x - q) ** 2).sum(axis=1))),
    'vector_ip_ops': ('<#>', lambda x, q: -(x @ q)),
    'vector_cosine_ops': ('<=>', cosine_distances),
    'vector_l1_ops': ('<+>', lambda x, q: np.abs(x - q).sum(axis=1)),
}

# float32 values whose decimal forms are awkward: shortest forms of 9
# digits, the smallest normal and subnormal, the largest finite, -0,
# integers past 2^24, powers of two
SPECIAL = np.array([
    0.1, 1 / 3, 2 / 3, math.pi, -math.e, 1e-7, 123456.789, 16777216, 16777218,
    np.finfo(np.float32).tiny, -np.finfo(np.float32).tiny, 1.4e-45, -1.4e-45,
    np.finfo(np.float32).max, -np.finfo(np.float32).max, 0.0, -0.0,
    2.0 ** -126, 2.0 ** 127, 1.0 + 2.0 ** -23, 0.30000001, 1e30, -1e-30,
    np.nextafter(np.float32(1), np.float32(2)), np.nextafter(np.float32(1), np.float32(0)),
    6.0221409e23, 9.999999e-39, 3.0, -1.0, 0.5, 2.5e-10, 7.0,
], dtype=np.float32)
assert SPECIAL.size == DIM


def random_vectors(rows, dim, seed=SEED):
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def awkward_vectors():
    """Rows of SPECIAL, rolled and sign-flipped, then random rows with
    random exponents: every float32 bit pattern class that matters."""
    rng = np.random.default_rng(SEED + 1)
    rows = [np.roll(SPECIAL, i) * (1 if i % 2 else -1) for i in range(DIM)]
    mant = rng.standard_normal((64, DIM))
    expo = rng.integers(-120, 120, (64, DIM)).astype(np.float64)
    rows.extend((mant * 2.0 ** expo).astype(np.float32))
    return np.array(rows, dtype=np.float32)


def to_numpy(value):
    """A vector as the client hands it back: a pgvector Vector (pgvector
    >= 0.3), a numpy array (older), or a list of floats (SQLAlchemy)."""
    if hasattr(value, 'to_numpy'):
        value = value.to_numpy()
    arr = np.asarray(value)
    assert arr.ndim == 1
    return arr


def assert_bits_equal(got, want):
    """float32 arrays equal bit for bit (tells -0 from 0)."""
    got = np.asarray(got)
    if got.dtype != np.float32:
        # Python floats parsed from the shortest decimal form of a float32
        # (a text result): rounding to float32 must give back its bits
        got = got.astype(np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (got, want)


def assert_knn(ids, dists, ref, k):
    """ids and distances the server returned against numpy's distances of
    every row (ref[id]): the k nearest in order, distances equal up to
    float32 rounding; where numpy sees no near-tie, exactly numpy's order."""
    ids = np.asarray(ids)
    dists = np.asarray(dists, dtype=np.float64)
    order = np.argsort(ref, kind='stable')[:k + 1]
    tol = 2e-5 * max(1.0, float(np.abs(ref[order]).max()))
    assert len(ids) == k and len(set(ids.tolist())) == k
    np.testing.assert_allclose(ref[ids], ref[order[:k]], rtol=0, atol=tol)
    np.testing.assert_allclose(dists, ref[ids], rtol=0, atol=tol)
    assert np.all(np.diff(dists) >= 0)
    if np.all(np.diff(ref[order]) > 2 * tol):
        assert ids.tolist() == order[:k].tolist()


def plan_indexes(plan):
    """(node type, index name) of every node of an EXPLAIN (FORMAT JSON) plan."""
    out = []
    stack = [plan[0]['Plan']]
    while stack:
        node = stack.pop()
        out.append((node['Node Type'], node.get('Index Name')))
        stack.extend(node.get('Plans', []))
    return out


def index_am(cur, index):
    return cur.execute(
        "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam"
        " WHERE c.oid = %s::regclass", (index,)).fetchone()[0]


# --- psycopg 3 ------------------------------------------------------------

def test_register_vector_finds_hybridsearch_type(conn):
    """register_vector looks the type up by the name `vector`: it must be
    hybridsearch's, with no extension called vector installed."""
    owner = conn.execute("""
        SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_type'::regclass AND d.objid = 'vector'::regtype
          AND d.refclassid = 'pg_extension'::regclass""").fetchall()
    assert owner == [('hybridsearch',)]
    assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone() == (0,)
    info = TypeInfo.fetch(conn, 'vector')
    assert info.oid == conn.execute("SELECT 'vector'::regtype::oid").fetchone()[0]
    # the loaders registered for it are used for text and binary results
    for binary in (False, True):
        cur = conn.cursor(binary=binary)
        v = to_numpy(cur.execute("SELECT '[1.5,-2,3e-5]'::vector").fetchone()[0])
        assert_bits_equal(v, [1.5, -2, 3e-5])
        assert cur.description[0].type_code == info.oid


@pytest.mark.parametrize('param_format', ['text', 'binary'])
@pytest.mark.parametrize('result_format', ['text', 'binary'])
def test_numpy_roundtrip(conn, param_format, result_format):
    """numpy float32 arrays in (text or binary parameters), out (text or
    binary results) bit for bit; the server holds the very same floats."""
    data = awkward_vectors()
    conn.execute('CREATE TABLE items (id int8 PRIMARY KEY, embedding vector(%d))' % DIM)
    ph = '%t' if param_format == 'text' else '%b'
    with conn.cursor() as cur:
        cur.executemany('INSERT INTO items (id, embedding) VALUES (%s, ' + ph + ')',
                        [(i, v) for i, v in enumerate(data)])
        # float64 arrays are rounded to float32 by the client, as with pgvector
        cur.execute('INSERT INTO items (id, embedding) VALUES (%s, ' + ph + ')',
                    (-1, data[0].astype(np.float64)))
        # and pgvector's own Vector objects
        cur.execute('INSERT INTO items (id, embedding) VALUES (%s, ' + ph + ')',
                    (-2, PgVector(data[1].tolist())))
    cur = conn.cursor(binary=result_format == 'binary')
    rows = cur.execute('SELECT id, embedding, embedding::real[], vector_dims(embedding)'
                       ' FROM items ORDER BY id').fetchall()
    assert [r[0] for r in rows] == list(range(-2, len(data)))
    for (i, emb, arr, dims) in rows:
        want = data[{-2: 1, -1: 0}.get(i, i)]
        assert_bits_equal(to_numpy(emb), want)
        assert_bits_equal(np.array(arr, dtype=np.float64), want)
        assert dims == DIM
    # the query side: a vector parameter compared on the server
    n = cur.execute('SELECT count(*) FROM items WHERE embedding = ' + ph, (data[5],)).fetchone()[0]
    assert n == 1


@pytest.mark.parametrize('opclass', list(OPCLASSES))
def test_knn_through_hybrid_index(conn, opclass):
    """ORDER BY embedding <op> %s LIMIT k with a numpy query vector: the
    plan is an index scan of the hybrid index; the rows equal a sequential
    scan's exactly and numpy's brute-force ranking."""
    op, dist = OPCLASSES[opclass]
    data = random_vectors(ROWS, DIM)
    conn.execute('CREATE TABLE items (id int8 PRIMARY KEY, embedding vector(%d))' % DIM)
    with conn.cursor() as cur:
        cur.executemany('INSERT INTO items (id, embedding) VALUES (%s, %b)',
                        [(i, v) for i, v in enumerate(data)])
    conn.execute('CREATE INDEX items_embedding_idx ON items USING hybrid (embedding %s)' % opclass)
    conn.execute('ANALYZE items')
    cur = conn.cursor()
    assert index_am(cur, 'items_embedding_idx') == 'hybrid'

    query = 'SELECT id, embedding %s %%s AS d FROM items ORDER BY embedding %s %%s LIMIT %%s' % (op, op)
    queries = random_vectors(5, DIM, seed=SEED + 2)
    for q in queries:
        plan = cur.execute('EXPLAIN (FORMAT JSON) ' + query, (q, q, K)).fetchone()[0]
        assert ('Index Scan', 'items_embedding_idx') in plan_indexes(plan), plan
        rows = cur.execute(query, (q, q, K)).fetchall()
        assert_knn([r[0] for r in rows], [r[1] for r in rows],
                   dist(data.astype(np.float64), q.astype(np.float64)), K)
        # binary parameters and results give the same rows
        assert cur.execute(query, (q, q, K), binary=True).fetchall() == rows
        # exactly what a sequential scan returns
        with conn.transaction():
            cur.execute('SET LOCAL enable_indexscan = off')
            plan = cur.execute('EXPLAIN (FORMAT JSON) ' + query, (q, q, K)).fetchone()[0]
            assert all(name is None for _, name in plan_indexes(plan)), plan
            assert cur.execute(query, (q, q, K)).fetchall() == rows


@pytest.mark.parametrize('copy_format', ['text', 'binary'])
def test_copy_numpy(conn, copy_format):
    """COPY FROM STDIN with set_types(['int8', 'vector']) and write_row of
    numpy arrays into a table with a hybrid index; COPY TO STDOUT and SELECT
    give them back bit for bit, and the index finds them."""
    data = np.concatenate([awkward_vectors(), random_vectors(500, DIM)])
    conn.execute('CREATE TABLE items (id int8 PRIMARY KEY, embedding vector(%d))' % DIM)
    conn.execute('CREATE INDEX items_embedding_idx ON items USING hybrid (embedding vector_l2_ops)')
    fmt = ' WITH (FORMAT BINARY)' if copy_format == 'binary' else ''
    cur = conn.cursor()
    with cur.copy('COPY items (id, embedding) FROM STDIN' + fmt) as copy:
        copy.set_types(['int8', 'vector'])
        for i, v in enumerate(data):
            copy.write_row((i, v))
    assert cur.execute('SELECT count(*) FROM items').fetchone()[0] == len(data)

    with cur.copy('COPY (SELECT id, embedding FROM items ORDER BY id) TO STDOUT' + fmt) as copy:
        copy.set_types(['int8', 'vector'])
        out = list(copy.rows())
    assert [r[0] for r in out] == list(range(len(data)))
    for (i, emb) in out:
        assert_bits_equal(to_numpy(emb), data[i])
    for (i, emb) in conn.cursor(binary=True).execute('SELECT id, embedding FROM items'):
        assert_bits_equal(to_numpy(emb), data[i])

    # every row COPY wrote went into the index: each random row is its own nearest
    conn.execute('ANALYZE items')
    q = 'SELECT id FROM items ORDER BY embedding <-> %s LIMIT 1'
    plan = cur.execute('EXPLAIN (FORMAT JSON) ' + q, (data[-1],)).fetchone()[0]
    assert ('Index Scan', 'items_embedding_idx') in plan_indexes(plan), plan
    for i in range(len(data) - 500, len(data), 37):
        assert cur.execute(q, (data[i],)).fetchone()[0] == i


ERROR_CASES = {
    # name: (statement, parameter, SQLSTATE, psycopg error class, message start)
    'text dims': ('INSERT INTO v3 VALUES (%t)', np.array([1, 2], np.float32),
                  '22000', errors.DataException, 'expected 3 dimensions, not 2'),
    'binary dims': ('INSERT INTO v3 VALUES (%b)', np.array([1, 2, 3, 4], np.float32),
                    '22000', errors.DataException, 'expected 3 dimensions, not 4'),
    'operator dims': ('SELECT embedding FROM v3 ORDER BY embedding <-> %s LIMIT 1', np.array([1, 2], np.float32),
                      '22000', errors.DataException, 'different vector dimensions 3 and 2'),
    'text nan': ('INSERT INTO v3 VALUES (%t)', np.array([1, np.nan, 3], np.float32),
                 '22000', errors.DataException, 'NaN not allowed in vector'),
    'binary nan': ('INSERT INTO v3 VALUES (%b)', np.array([1, np.nan, 3], np.float32),
                   '22000', errors.DataException, 'NaN not allowed in vector'),
    'text inf': ('INSERT INTO v3 VALUES (%t)', np.array([1, np.inf, 3], np.float32),
                 '22000', errors.DataException, 'infinite value not allowed in vector'),
    'binary inf': ('INSERT INTO v3 VALUES (%b)', np.array([-np.inf, 2, 3], np.float32),
                   '22000', errors.DataException, 'infinite value not allowed in vector'),
    'bad text': ('INSERT INTO v3 VALUES (%s::vector)', '[1,2',
                 '22P02', errors.InvalidTextRepresentation, 'invalid input syntax for type vector'),
    'typmod too large': ("SELECT %s::vector(16001)", '[1]',
                         '22023', errors.InvalidParameterValue,
                         'dimensions for type vector cannot exceed 16000'),
}


@pytest.mark.parametrize('case', list(ERROR_CASES))
def test_errors_have_sqlstate(conn, case):
    """Bad values come back as psycopg errors of pgvector's SQLSTATE, and
    the connection stays usable."""
    stmt, param, sqlstate, cls, message = ERROR_CASES[case]
    conn.execute('CREATE TABLE v3 (embedding vector(3))')
    conn.execute("INSERT INTO v3 VALUES ('[1,2,3]')")
    conn.execute('CREATE INDEX ON v3 USING hybrid (embedding vector_l2_ops)')
    with pytest.raises(cls) as exc:
        conn.execute(stmt, (param,))
    assert exc.value.sqlstate == sqlstate
    assert exc.value.diag.message_primary.startswith(message), exc.value.diag.message_primary
    assert conn.execute('SELECT count(*) FROM v3').fetchone()[0] == 1


def test_copy_wrong_dimensions(conn):
    """A vector of the wrong length in a binary COPY fails the COPY with
    22000 and leaves the table as it was."""
    conn.execute('CREATE TABLE v3 (id int8, embedding vector(3))')
    with pytest.raises(errors.DataException) as exc:
        with conn.cursor().copy('COPY v3 (id, embedding) FROM STDIN WITH (FORMAT BINARY)') as copy:
            copy.set_types(['int8', 'vector'])
            copy.write_row((1, np.array([1, 2, 3], np.float32)))
            copy.write_row((2, np.array([1, 2], np.float32)))
    assert exc.value.sqlstate == '22000'
    assert exc.value.diag.message_primary == 'expected 3 dimensions, not 2'
    assert conn.execute('SELECT count(*) FROM v3').fetchone()[0] == 0


# --- SQLAlchemy 2 ----------------------------------------------------------

Base = declarative_base()


class Item(Base):
    __tablename__ = 'sa_items'
    id = Column(BigInteger, primary_key=True)
    embedding = Column(Vector(3))


SA_OPS = [('l2_distance', 'vector_l2_ops'), ('cosine_distance', 'vector_cosine_ops'),
          ('max_inner_product', 'vector_ip_ops'), ('l1_distance', 'vector_l1_ops')]


@pytest.fixture(params=['plain', 'register_vector'])
def engine(request, schema):
    """An engine on the psycopg 3 dialect (postgresql+psycopg://, the rest
    from libpq's environment): as it comes, and with register_vector on
    every connection as pgvector's README shows."""
    eng = sqlalchemy.create_engine(
        'postgresql+psycopg://', poolclass=sqlalchemy.pool.NullPool,
        connect_args={'options': '-c search_path=%s,public' % schema})
    if request.param == 'register_vector':
        @event.listens_for(eng, 'connect')
        def connect(dbapi_connection, connection_record):
            register_vector(dbapi_connection)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def sa_data():
    data = random_vectors(400, 3, seed=SEED + 3)
    data[0] = 0                      # cosine distance NaN: sorts after every number
    data[1:3] = SPECIAL[[0, 4, 10]], SPECIAL[[20, 1, 24]]
    return data


def test_sqlalchemy_roundtrip(engine):
    """Vector(3) column: numpy arrays and lists in, the same floats out;
    reflection sees vector(3); avg and sum from pgvector.sqlalchemy."""
    data = sa_data()
    with Session(engine) as session:
        session.add_all([Item(id=i, embedding=v) for i, v in enumerate(data)])
        session.add(Item(id=-1, embedding=[1.5, -2.0, 0.1]))
        session.commit()
        got = {item.id: item.embedding for item in session.scalars(select(Item))}
    assert len(got) == len(data) + 1
    for i, v in enumerate(data):
        assert_bits_equal(to_numpy(got[i]), v)
    assert_bits_equal(to_numpy(got[-1]), [1.5, -2.0, 0.1])

    col = {c['name']: c for c in sqlalchemy.inspect(engine).get_columns('sa_items')}['embedding']
    assert isinstance(col['type'], Vector) and col['type'].dim == 3

    from pgvector.sqlalchemy import avg, sum as vsum
    with Session(engine) as session:
        mean = to_numpy(session.scalar(select(avg(Item.embedding)).where(Item.id >= 0)))
        total = to_numpy(session.scalar(select(vsum(Item.embedding)).where(Item.id >= 0)))
    np.testing.assert_allclose(mean, data.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(total, data.astype(np.float64).sum(axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('method,opclass', SA_OPS)
def test_sqlalchemy_order_by_distance(engine, method, opclass):
    """select(Item).order_by(Item.embedding.<method>(v)).limit(k) with a
    hybrid index of the matching opclass (Index(..., postgresql_using=
    'hybrid', postgresql_ops=...)): index scan, numpy's ranking, and the
    same rows as a sequential scan."""
    if not hasattr(Vector.comparator_factory, method):
        pytest.skip('this pgvector package has no %s' % method)
    op, dist = OPCLASSES[opclass]
    data = sa_data()
    with Session(engine) as session:
        session.add_all([Item(id=i, embedding=v) for i, v in enumerate(data)])
        session.commit()
    index = Index('sa_items_embedding_idx', Item.embedding, postgresql_using='hybrid',
                  postgresql_ops={'embedding': opclass})
    index.create(engine)
    try:
        with engine.connect() as c:
            c.execute(text('ANALYZE sa_items'))
            assert c.execute(text("SELECT amname FROM pg_class JOIN pg_am ON pg_am.oid = relam"
                                  " WHERE relname = 'sa_items_embedding_idx'")).scalar() == 'hybrid'
            c.commit()
        ref_data = data.astype(np.float64)
        for q in random_vectors(4, 3, seed=SEED + 4):
            for qv in (q, q.tolist()):           # numpy array and list parameters
                expr = getattr(Item.embedding, method)(qv)
                stmt = select(Item.id, expr.label('d')).order_by(expr).limit(K)
                with engine.connect() as c:
                    compiled = stmt.compile(engine, compile_kwargs={'literal_binds': True})
                    plan = c.exec_driver_sql('EXPLAIN (FORMAT JSON) %s' % compiled).scalar()
                    assert ('Index Scan', 'sa_items_embedding_idx') in plan_indexes(plan), plan
                    rows = c.execute(stmt).all()
                    c.execute(text('SET enable_indexscan = off'))
                    assert c.execute(stmt).all() == rows
                    c.rollback()
                ref = dist(ref_data, q.astype(np.float64))
                ref[np.isnan(ref)] = np.inf      # the zero vector's NaN sorts last
                assert_knn([r.id for r in rows], [r.d for r in rows], ref, K)
                # the ORM entity query orders the same way
                with Session(engine) as session:
                    items = session.scalars(select(Item).order_by(expr).limit(K)).all()
                assert [it.id for it in items] == [r.id for r in rows]
    finally:
        Item.__table__.indexes.discard(index)   # Index() attached itself to the table


def test_sqlalchemy_wrong_dimensions(engine):
    """Inserting a vector of the wrong length into Vector(3) raises
    sqlalchemy's DataError wrapping psycopg's DataException (22000)."""
    with Session(engine) as session:
        session.add(Item(id=1, embedding=np.array([1, 2], np.float32)))
        with pytest.raises(sqlalchemy.exc.DataError) as exc:
            session.commit()
    assert isinstance(exc.value.orig, errors.DataException)
    assert exc.value.orig.sqlstate == '22000'
    assert 'expected 3 dimensions, not 2' in str(exc.value.orig)
