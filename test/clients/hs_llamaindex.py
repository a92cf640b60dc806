"""A hybrid index for LlamaIndex's PGVectorStore, as doc/llamaindex.md
shows it (test_llamaindex.py checks that the page has this code verbatim)."""
import sqlalchemy


def create_hybrid_index(engine, vector_store):
    """Indexes the store's table (data_<table_name>, which the store makes
    on first use) for its queries, which always order by cosine distance."""
    table = f"data_{vector_store.table_name}"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(
            f"CREATE INDEX IF NOT EXISTS {table}_embedding_hybrid_idx"
            f" ON {vector_store.schema_name}.{table}"
            " USING hybrid (embedding vector_cosine_ops)"))
