"""hybrid indexes for langchain-postgres, as doc/langchain.md shows them
(test_langchain.py checks that the page has this code verbatim)."""
from dataclasses import dataclass

import sqlalchemy
from langchain_postgres.v2.indexes import BaseIndex
from langchain_postgres.vectorstores import DistanceStrategy


# PGVectorStore (langchain_postgres.v2): store.apply_vector_index(HybridIndex())
@dataclass
class HybridIndex(BaseIndex):
    """An exact hybridsearch index: USING hybrid (embedding vector_..._ops)."""
    index_type: str = "hybrid"
    precision: str = "full"     # or "half": half the memory, still exact

    def index_options(self) -> str:
        return f"(precision = {self.precision})"


# PGVector (langchain_postgres.vectorstores): one table for every collection
HYBRID_OPS = {
    DistanceStrategy.COSINE: "vector_cosine_ops",
    DistanceStrategy.EUCLIDEAN: "vector_l2_ops",
    DistanceStrategy.MAX_INNER_PRODUCT: "vector_ip_ops",
}


def create_hybrid_index(engine, distance_strategy=DistanceStrategy.COSINE):
    """Indexes langchain_pg_embedding.embedding for PGVector's queries."""
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(
            "CREATE INDEX IF NOT EXISTS langchain_pg_embedding_hybrid_idx"
            " ON langchain_pg_embedding"
            f" USING hybrid (embedding {HYBRID_OPS[distance_strategy]})"))
        # the planner weighs the index against a sort by the rows it expects
        # a collection to have: give it the table's statistics
        conn.execute(sqlalchemy.text("ANALYZE langchain_pg_embedding"))
