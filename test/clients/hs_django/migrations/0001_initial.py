import django.db.models
import pgvector.django
from django.db import migrations

import hs_django.indexes


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        pgvector.django.VectorExtension(),     # CREATE EXTENSION IF NOT EXISTS vector: the alias
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", django.db.models.BigAutoField(auto_created=True, primary_key=True,
                                                     serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.VectorField(dimensions=32)),
            ],
            options={
                "indexes": [hs_django.indexes.HybridIndex(
                    fields=["embedding"], name="item_embedding_hybrid",
                    opclasses=["vector_cosine_ops"])],
            },
        ),
    ]
