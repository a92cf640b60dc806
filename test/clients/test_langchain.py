"""LangChain's langchain-postgres against hybridsearch, as doc/langchain.md
shows it: PGVector (one table for every collection) and PGVectorStore (a
table per store), with DeterministicFakeEmbedding (no model), a few hundred
documents, and a hybrid index.  The k nearest documents the library returns
must be what a sequential scan of the very statement it sent returns, and
EXPLAIN of that statement must show the hybrid index."""
import uuid

import psycopg
import pytest
import sqlalchemy
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_postgres import PGEngine, PGVector, PGVectorStore

import hs_langchain
from doccheck import assert_in_doc, module_code
from hs_langchain import HybridIndex, create_hybrid_index
from sqlcapture import assert_exact, captured, knn_select, replay

DIM = 32
K = 10
TEXTS = ['document number %d about topic %d' % (i, i % 17) for i in range(300)]
QUERY = 'which document is about topic 5?'


def url(database):
    return 'postgresql+psycopg:///%s' % database    # host, port, user: libpq's environment


def extensions(database):
    with psycopg.connect(dbname=database) as conn:
        return sorted(r[0] for r in conn.execute('SELECT extname FROM pg_extension'))


def test_doc_shows_the_helpers():
    assert_in_doc('langchain.md', module_code(hs_langchain.__file__))
    assert_in_doc('langchain.md', PGVECTORSTORE_DDL % 768)


@pytest.mark.parametrize('create_extension', [True, False])
def test_pgvector(database, create_extension):
    """PGVector: create_extension=True runs CREATE EXTENSION IF NOT EXISTS
    vector (the alias answers it); False leaves it out."""
    engine = sqlalchemy.create_engine(url(database))
    embeddings = DeterministicFakeEmbedding(size=DIM)
    store = PGVector(embeddings=embeddings, connection=engine, collection_name='docs',
                     embedding_length=DIM, create_extension=create_extension)
    ids = [str(uuid.uuid4()) for _ in TEXTS]
    store.add_texts(TEXTS, ids=ids)
    # another collection in the same table: the query filters it out
    other = PGVector(embeddings=embeddings, connection=engine, collection_name='other',
                     embedding_length=DIM, create_extension=False)
    other.add_texts(TEXTS[:100], ids=[str(uuid.uuid4()) for _ in range(100)])
    create_hybrid_index(engine)

    with captured() as seen:
        docs = store.similarity_search(QUERY, k=K)
    statement, parameters = knn_select(seen)
    with engine.connect() as conn:
        plan, seq_plan, rows = replay(conn, statement, parameters)
    assert_exact(plan, seq_plan, 'langchain_pg_embedding_hybrid_idx',
                 [d.id for d in docs], [r.langchain_pg_embedding_id for r in rows], K)
    assert set(d.id for d in docs) <= set(ids)
    want = ['hybridsearch', 'plpgsql'] + (['vector'] if create_extension else [])
    assert extensions(database) == want
    engine.dispose()


# PGVectorStore's table, made without init_vectorstore_table (which runs
# CREATE EXTENSION IF NOT EXISTS vector), as doc/langchain.md shows it
PGVECTORSTORE_DDL = '''
CREATE TABLE docs (
    langchain_id uuid PRIMARY KEY,
    content text NOT NULL,
    embedding vector(%d) NOT NULL,
    langchain_metadata json
);
'''


@pytest.mark.parametrize('setup', ['init_vectorstore_table', 'own DDL'])
def test_pgvectorstore(database, setup):
    engine = PGEngine.from_connection_string(url=url(database))
    if setup == 'init_vectorstore_table':
        engine.init_vectorstore_table(table_name='docs', vector_size=DIM)
    else:
        with psycopg.connect(dbname=database, autocommit=True) as conn:
            conn.execute(PGVECTORSTORE_DDL % DIM)
    store = PGVectorStore.create_sync(engine=engine, table_name='docs',
                                      embedding_service=DeterministicFakeEmbedding(size=DIM))
    ids = [str(uuid.uuid4()) for _ in TEXTS]
    store.add_texts(TEXTS, ids=ids)
    with captured() as seen:
        store.apply_vector_index(HybridIndex())
    create_index = [s for s, _ in seen if s.startswith('CREATE INDEX')]
    assert len(create_index) == 1 and 'USING hybrid' in create_index[0]
    assert_in_doc('langchain.md', create_index[0])      # the statement the page shows

    with captured() as seen:
        docs = store.similarity_search(QUERY, k=K)
    statement, parameters = knn_select(seen)
    replay_engine = sqlalchemy.create_engine(url(database))   # the same driver, synchronous
    with replay_engine.connect() as conn:
        plan, seq_plan, rows = replay(conn, statement, parameters)
    assert_exact(plan, seq_plan, 'docslangchainvectorindex',
                 [d.id for d in docs], [str(r.langchain_id) for r in rows], K)
    assert set(d.id for d in docs) <= set(ids)
    store.apply_vector_index(HybridIndex(name='docs_half', precision='half'))
    with replay_engine.connect() as conn:
        indexdef = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'docs_half'").scalar()
    assert indexdef.endswith('USING hybrid (embedding vector_cosine_ops) WITH ("precision"=half)')
    want = ['hybridsearch', 'plpgsql'] + (['vector'] if setup == 'init_vectorstore_table' else [])
    assert extensions(database) == want
    replay_engine.dispose()
