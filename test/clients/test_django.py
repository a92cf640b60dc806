"""Django with pgvector.django against hybridsearch, as doc/django.md shows
it: an app (hs_django) whose model has a VectorField and a HybridIndex, and
whose migration starts with pgvector's VectorExtension (the alias extension
answers it).  Migrating creates the hybrid index; a few hundred rows; the k
nearest by CosineDistance come through the index (QuerySet.explain) and
equal the same query's sequential scan; migrating back to zero drops the
alias and leaves hybridsearch."""
import io
import os

import django
import numpy as np
import psycopg
from django.conf import settings
from django.core.management import call_command

import hs_django.indexes
from doccheck import assert_in_doc, module_code

DIM = 32
K = 10
ROWS = 300


def setup_django(database):
    settings.configure(
        DATABASES={'default': {
            'ENGINE': 'django.db.backends.postgresql',
            'NAME': database, 'HOST': os.environ['PGHOST'],
            'PORT': os.environ['PGPORT'], 'USER': os.environ['PGUSER'],
        }},
        INSTALLED_APPS=['hs_django'],
        DEFAULT_AUTO_FIELD='django.db.models.BigAutoField',
        USE_TZ=True,
    )
    django.setup()


def extensions(database):
    with psycopg.connect(dbname=database) as conn:
        return sorted(r[0] for r in conn.execute('SELECT extname FROM pg_extension'))


def test_doc_shows_the_index_class():
    assert_in_doc('django.md', module_code(hs_django.indexes.__file__))


def test_django(database):
    setup_django(database)
    from django.db import connection
    from pgvector.django import CosineDistance
    from hs_django.models import Item

    call_command('makemigrations', 'hs_django', check=True, dry_run=True, verbosity=0)
    migration_sql = call_command('sqlmigrate', 'hs_django', '0001', stdout=io.StringIO())
    creates = [line.replace('hs_django', 'myapp').replace('vector(32)', 'vector(768)')
               for line in migration_sql.splitlines() if line.startswith('CREATE')]
    assert creates[0] == 'CREATE EXTENSION IF NOT EXISTS "vector";' and len(creates) == 3
    assert 'USING hybrid ("embedding" vector_cosine_ops)' in creates[2]
    assert_in_doc('django.md', '\n'.join(creates[1:]))
    call_command('migrate', 'hs_django', verbosity=0)
    assert extensions(database) == ['hybridsearch', 'plpgsql', 'vector']
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'item_embedding_hybrid'")
        assert 'USING hybrid (embedding vector_cosine_ops)' in cur.fetchone()[0]

    rng = np.random.default_rng(23)
    Item.objects.bulk_create(Item(embedding=v) for v in rng.standard_normal((ROWS, DIM)))
    query = rng.standard_normal(DIM)
    nearest = Item.objects.order_by(CosineDistance('embedding', query))[:K]
    plan = nearest.explain()
    got = [item.id for item in nearest]
    with connection.cursor() as cur:
        cur.execute('SET enable_indexscan = off')
        seq_plan = nearest.explain()
        seq = [item.id for item in nearest.all()]
        cur.execute('RESET enable_indexscan')
    assert 'Index Scan using item_embedding_hybrid' in plan, plan
    assert 'item_embedding_hybrid' not in seq_plan and 'Seq Scan' in seq_plan, seq_plan
    assert len(got) == K and got == seq

    # precision: WITH (precision = half), and back through deconstruct()
    half = hs_django.indexes.HybridIndex(fields=['embedding'], name='item_embedding_half',
                                         opclasses=['vector_l2_ops'], precision='half')
    assert half.deconstruct()[2]['precision'] == 'half'
    with connection.schema_editor() as editor:
        editor.add_index(Item, half)
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'item_embedding_half'")
        # vector_l2_ops is the default class, which pg_indexes leaves out
        assert cur.fetchone()[0].endswith('USING hybrid (embedding) WITH ("precision"=half)')

    call_command('migrate', 'hs_django', 'zero', verbosity=0)
    assert extensions(database) == ['hybridsearch', 'plpgsql']
    connection.close()
