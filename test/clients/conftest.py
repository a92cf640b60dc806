"""Fixtures shared by the client tests: the extension, a schema per test
and a psycopg 3 connection to it with pgvector's types registered."""
import itertools

import psycopg
import pytest
from psycopg import sql
from pgvector.psycopg import register_vector


# --- the server ------------------------------------------------------------

@pytest.fixture(scope='session')
def extension():
    with psycopg.connect(autocommit=True) as conn:
        conn.execute('CREATE EXTENSION IF NOT EXISTS hybridsearch')
    return 'hybridsearch'


_schemas = itertools.count(1)


@pytest.fixture
def schema(extension):
    """A fresh schema for one test; the search path puts it first."""
    name = 'clients_t%d' % next(_schemas)
    with psycopg.connect(autocommit=True) as conn:
        conn.execute(sql.SQL('DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}')
                     .format(sql.Identifier(name)))
    yield name
    with psycopg.connect(autocommit=True) as conn:
        conn.execute(sql.SQL('DROP SCHEMA {} CASCADE').format(sql.Identifier(name)))


@pytest.fixture
def conn(schema):
    with psycopg.connect(autocommit=True, options='-c search_path=%s,public' % schema) as c:
        register_vector(c)
        yield c


# --- a database of its own, for the framework and alias tests -------------

_databases = itertools.count(1)


@pytest.fixture
def empty_database(extension):
    """A fresh database, dropped afterwards: the framework tests run CREATE
    EXTENSION vector (the alias), which must not leak into the database the
    other tests share."""
    name = 'clients_db%d' % next(_databases)
    with psycopg.connect(autocommit=True) as conn:
        conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(sql.Identifier(name)))
        conn.execute(sql.SQL('CREATE DATABASE {}').format(sql.Identifier(name)))
    yield name
    with psycopg.connect(autocommit=True) as conn:
        conn.execute(sql.SQL('DROP DATABASE {} WITH (FORCE)').format(sql.Identifier(name)))


@pytest.fixture
def database(empty_database):
    """A fresh database with hybridsearch created in it."""
    with psycopg.connect(dbname=empty_database, autocommit=True) as conn:
        conn.execute('CREATE EXTENSION hybridsearch')
    return empty_database
