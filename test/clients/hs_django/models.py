from django.db import models
from pgvector.django import VectorField

from .indexes import HybridIndex


class Item(models.Model):
    embedding = VectorField(dimensions=32)

    class Meta:
        indexes = [
            HybridIndex(fields=["embedding"], name="item_embedding_hybrid",
                        opclasses=["vector_cosine_ops"]),
        ]
