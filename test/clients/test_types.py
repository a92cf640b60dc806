"""pgvector's Python client types for halfvec, sparsevec and bit
(pgvector.HalfVector, SparseVector, Bit) against hybridsearch, unchanged:
psycopg 3 with register_vector, which registers them when the types exist,
and SQLAlchemy 2 with pgvector.sqlalchemy's HALFVEC, SPARSEVEC and BIT.
Values go in and come back bit for bit, as text and as binary; distances
equal a numpy computation over the same values.

    /opt/hybridsearch-test-venv/bin/python -m pytest -v test/clients
"""
import numpy as np
import pytest
from psycopg import errors
from pgvector import Bit, HalfVector, SparseVector
from pgvector.sqlalchemy import BIT, HALFVEC, SPARSEVEC
from sqlalchemy import BigInteger, Column, create_engine, pool, select
from sqlalchemy.orm import Session, declarative_base

SEED = 20261201
FORMATS = [False, True]          # binary=False (text), binary=True


def half_rows(rows, dim):
    """Random halves with random exponents, and the edges of fp16: the
    largest finite, the smallest normal and subnormal, -0."""
    rng = np.random.default_rng(SEED)
    values = (rng.standard_normal((rows, dim)) * 2.0 ** rng.integers(-20, 14, (rows, dim)))
    data = values.astype(np.float16)
    data[0, :4] = [65504, -6.104e-05, 6e-08, -0.0]
    assert np.isfinite(data).all()
    return data


def sparse_rows(rows, dim):
    rng = np.random.default_rng(SEED + 1)
    data = rng.standard_normal((rows, dim)).astype(np.float32)
    data[rng.random((rows, dim)) < 0.8] = 0
    data[0] = 0                       # an empty sparse vector
    data[1, -1] = np.float32(1.4e-45)  # a float4 subnormal is kept
    return data


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and (a.view(np.uint8) == b.view(np.uint8)).all()


@pytest.mark.parametrize('binary', FORMATS, ids=['text', 'binary'])
def test_halfvec_round_trip(conn, binary):
    data = half_rows(200, 24)
    conn.execute('CREATE TABLE h (id int PRIMARY KEY, v halfvec(24))')
    with conn.cursor(binary=binary) as cur:
        cur.executemany('INSERT INTO h VALUES (%s, %s)',
                        [(i, HalfVector(row)) for i, row in enumerate(data)])
        back = cur.execute('SELECT v FROM h ORDER BY id').fetchall()
    assert all(isinstance(r[0], HalfVector) for r in back)
    assert same_bits(np.array([r[0].to_numpy() for r in back]), data)
    # the server's text form reads back to the same halves
    texts = conn.execute('SELECT v::text FROM h ORDER BY id').fetchall()
    assert same_bits(np.array([HalfVector.from_text(t).to_numpy() for (t,) in texts]), data)


@pytest.mark.parametrize('binary', FORMATS, ids=['text', 'binary'])
def test_halfvec_distances(conn, binary):
    data = half_rows(100, 8).astype(np.float32)
    data[np.abs(data) > 100] = 1      # keep float4 sums exact enough to compare
    q = data[7]
    conn.execute('CREATE TABLE h (id int PRIMARY KEY, v halfvec(8))')
    conn.cursor().executemany('INSERT INTO h VALUES (%s, %s)',
                              [(i, HalfVector(row)) for i, row in enumerate(data)])
    with conn.cursor(binary=binary) as cur:
        rows = cur.execute('SELECT v <-> %s, v <+> %s, v <#> %s FROM h ORDER BY id',
                           (HalfVector(q),) * 3).fetchall()
    got = np.array(rows)
    np.testing.assert_allclose(got[:, 0], np.sqrt(((data - q) ** 2).sum(axis=1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[:, 1], np.abs(data - q).sum(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[:, 2], -(data @ q), rtol=1e-5, atol=1e-5)


def test_halfvec_errors(conn):
    with pytest.raises(errors.NumericValueOutOfRange):
        conn.execute("SELECT '[70000]'::vector::halfvec")
    with pytest.raises(errors.DataException, match='expected 3 dimensions, not 2'):
        conn.execute('SELECT %s::halfvec(3)', (HalfVector([1, 2]),))


@pytest.mark.parametrize('binary', FORMATS, ids=['text', 'binary'])
def test_sparsevec_round_trip(conn, binary):
    data = sparse_rows(200, 50)
    conn.execute('CREATE TABLE s (id int PRIMARY KEY, v sparsevec(50))')
    with conn.cursor(binary=binary) as cur:
        cur.executemany('INSERT INTO s VALUES (%s, %s)',
                        [(i, SparseVector(row)) for i, row in enumerate(data)])
        back = cur.execute('SELECT v FROM s ORDER BY id').fetchall()
    assert all(isinstance(r[0], SparseVector) for r in back)
    assert same_bits(np.array([r[0].to_numpy() for r in back]), data)
    assert back[0][0].indices() == [] and back[0][0].dimensions() == 50
    # indices: 0-based in Python and in the binary form, 1-based in text
    (text,) = conn.execute('SELECT %s::sparsevec::text', (SparseVector({0: 1.5, 3: -2}, 5),)).fetchone()
    assert text == '{1:1.5,4:-2}/5'
    dense = conn.execute('SELECT v::vector FROM s ORDER BY id').fetchall()
    assert same_bits(np.array([d.to_numpy() for (d,) in dense]), data)


@pytest.mark.parametrize('binary', FORMATS, ids=['text', 'binary'])
def test_sparsevec_distances(conn, binary):
    data = sparse_rows(100, 30)
    q = data[5]
    conn.execute('CREATE TABLE s (id int PRIMARY KEY, v sparsevec(30))')
    conn.cursor().executemany('INSERT INTO s VALUES (%s, %s)',
                              [(i, SparseVector(row)) for i, row in enumerate(data)])
    with conn.cursor(binary=binary) as cur:
        rows = cur.execute('SELECT v <-> %s, v <#> %s, v <+> %s FROM s ORDER BY id',
                           (SparseVector(q),) * 3).fetchall()
    got = np.array(rows)
    np.testing.assert_allclose(got[:, 0], np.sqrt(((data - q) ** 2).sum(axis=1)), rtol=1e-5)
    np.testing.assert_allclose(got[:, 1], -(data @ q), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[:, 2], np.abs(data - q).sum(axis=1), rtol=1e-5)


def test_sparsevec_errors(conn):
    with pytest.raises(errors.DataException, match='index out of bounds'):
        conn.execute("SELECT '{0:1}/3'::sparsevec")
    with pytest.raises(errors.ProgramLimitExceeded):
        conn.execute("SELECT '{}/1000000001'::sparsevec")


@pytest.mark.parametrize('binary', FORMATS, ids=['text', 'binary'])
def test_bit_round_trip_and_distances(conn, binary):
    rng = np.random.default_rng(SEED + 2)
    data = rng.random((100, 77)) < 0.5
    conn.execute('CREATE TABLE b (id int PRIMARY KEY, v bit(77))')
    with conn.cursor(binary=binary) as cur:
        cur.executemany('INSERT INTO b VALUES (%s, %s)', [(i, Bit(row)) for i, row in enumerate(data)])
        back = cur.execute('SELECT v FROM b ORDER BY id').fetchall()
        q = Bit(data[3])
        rows = cur.execute('SELECT v <~> %s, v <%%> %s FROM b ORDER BY id', (q, q)).fetchall()
    # register_vector dumps Bit; bit values come back as psycopg loads them
    loaded = [Bit.from_binary(v) if binary else Bit(v) for (v,) in back]
    assert (np.array([b.to_numpy() for b in loaded]) == data).all()
    hamming = (data != data[3]).sum(axis=1)
    both = (data & data[3]).sum(axis=1)
    either = (data | data[3]).sum(axis=1)
    jaccard = np.where(both == 0, 1.0, 1 - both / np.maximum(either, 1))
    assert [r[0] for r in rows] == hamming.tolist()
    np.testing.assert_allclose([r[1] for r in rows], jaccard, rtol=1e-15)


def test_binary_quantize_rerank(conn):
    """pgvector's recipe: candidates by Hamming distance of the quantized
    vectors, re-ranked by cosine distance of the originals."""
    rng = np.random.default_rng(SEED + 3)
    data = rng.standard_normal((500, 16)).astype(np.float32)
    conn.execute('CREATE TABLE items (id int PRIMARY KEY, embedding vector(16))')
    conn.cursor().executemany('INSERT INTO items VALUES (%s, %s)', list(enumerate(data)))
    q = data[42]
    bits = conn.execute('SELECT binary_quantize(%s::vector)', (q,)).fetchone()[0]
    assert bits == Bit(q > 0).to_text()
    ids = [r[0] for r in conn.execute(
        'SELECT id FROM (SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(16)'
        ' <~> binary_quantize(%s::vector) LIMIT 20) c ORDER BY embedding <=> %s LIMIT 5',
        (q, q)).fetchall()]
    assert ids[0] == 42


Base = declarative_base()


class Item(Base):
    __tablename__ = 'type_items'
    id = Column(BigInteger, primary_key=True)
    half = Column(HALFVEC(3))
    sparse = Column(SPARSEVEC(5))
    bits = Column(BIT(4))


@pytest.fixture
def engine(schema):
    eng = create_engine('postgresql+psycopg://', poolclass=pool.NullPool,
                        connect_args={'options': '-c search_path=%s,public' % schema})
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def test_sqlalchemy_types(engine):
    with Session(engine) as session:
        session.add_all([
            Item(id=1, half=[1, 2, 3], sparse=SparseVector({0: 1, 2: 2}, 5), bits='1010'),
            Item(id=2, half=np.array([0.1, -2, 65504]), sparse=SparseVector([0, 0, 0, 0, 4.5]), bits='0110'),
            Item(id=3, half=[4, 5, 6], sparse=SparseVector({}, 5), bits='1111'),
        ])
        session.commit()
        item = session.get(Item, 2)
        assert same_bits(np.array(item.half, dtype=np.float16), np.array([0.1, -2, 65504], dtype=np.float16))
        assert item.sparse.indices() == [4] and item.sparse.values() == [4.5]
        assert item.bits == '0110'
        by_l2 = session.scalars(select(Item.id).order_by(Item.half.l2_distance([3, 1, 2]))).all()
        assert by_l2 == [1, 3, 2]
        by_cos = session.scalars(select(Item.id).order_by(Item.half.cosine_distance([1, 2, 3]), Item.id)).all()
        assert by_cos[0] == 1
        by_sparse = session.scalars(select(Item.id).order_by(Item.sparse.l2_distance(SparseVector({4: 4}, 5)))).all()
        assert by_sparse == [2, 3, 1]
        by_hamming = session.scalars(select(Item.id).order_by(Item.bits.hamming_distance('1011'), Item.id)).all()
        assert by_hamming == [1, 3, 2]
        by_jaccard = session.scalars(select(Item.id).order_by(Item.bits.jaccard_distance('0110'), Item.id)).all()
        assert by_jaccard == [2, 3, 1]
