"""LlamaIndex's PGVectorStore against hybridsearch, as doc/llamaindex.md
shows it: hnsw_kwargs left out (its HNSW index would fail), a few hundred
nodes through VectorStoreIndex with MockEmbedding as the model (the nodes
carry their own deterministic embeddings), and a hybrid index made with
create_hybrid_index.  A retriever's k nearest nodes must be what a
sequential scan of the statement the store sent returns, and EXPLAIN of
that statement must show the hybrid index; set-up must log no error."""
import logging

import numpy as np
import pytest
import sqlalchemy
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.vector_stores.postgres import PGVectorStore
from sqlalchemy.ext.asyncio import create_async_engine

import hs_llamaindex
from doccheck import assert_in_doc, module_code
from hs_llamaindex import create_hybrid_index
from sqlcapture import assert_exact, captured, knn_select, replay

DIM = 32
K = 10
ROWS = 300


# the store's table and the hybrid index, made before the store runs, as
# doc/llamaindex.md shows them
DDL = '''
CREATE TABLE data_docs (
    id bigserial PRIMARY KEY,
    text varchar NOT NULL,
    metadata_ json,
    node_id varchar,
    embedding vector(%d)
);
CREATE INDEX docs_idx_1 ON data_docs ((metadata_ ->> 'ref_doc_id'));
CREATE INDEX data_docs_embedding_hybrid_idx ON data_docs USING hybrid (embedding vector_cosine_ops);
'''


def test_doc_shows_the_helper():
    assert_in_doc('llamaindex.md', module_code(hs_llamaindex.__file__))
    assert_in_doc('llamaindex.md', DDL % 768)


@pytest.mark.parametrize('setup', ['store makes the table', 'own DDL'])
def test_pgvectorstore(database, setup, caplog):
    url = 'postgresql+psycopg:///%s' % database     # host, port, user: libpq's environment
    engine = sqlalchemy.create_engine(url)
    if setup == 'own DDL':
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL % DIM)
    vector_store = PGVectorStore(engine=engine, async_engine=create_async_engine(url),
                                 table_name='docs', embed_dim=DIM)
    rng = np.random.default_rng(17)
    nodes = [TextNode(text='node %d' % i, id_='node-%d' % i,
                      embedding=rng.standard_normal(DIM).tolist()) for i in range(ROWS)]
    with caplog.at_level(logging.WARNING):
        index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(
            vector_store=vector_store), embed_model=MockEmbedding(embed_dim=DIM))
    assert not [r for r in caplog.records if 'PG Setup' in r.getMessage()], caplog.text
    if setup == 'store makes the table':
        create_hybrid_index(engine, vector_store)
    else:       # the store used the table as it was
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_indexes"
                                        " WHERE tablename = 'data_docs'").scalar() == 3

    query = QueryBundle('a question', embedding=rng.standard_normal(DIM).tolist())
    with captured() as seen:
        found = index.as_retriever(similarity_top_k=K).retrieve(query)
    statement, parameters = knn_select(seen)
    with engine.connect() as conn:
        plan, seq_plan, rows = replay(conn, statement, parameters)
    assert_exact(plan, seq_plan, 'data_docs_embedding_hybrid_idx',
                 [n.node.node_id for n in found], [r.node_id for r in rows], K)
    engine.dispose()
