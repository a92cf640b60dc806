"""The alias extension `vector` (sql/vector-alias), which answers the
CREATE EXTENSION [IF NOT EXISTS] vector that LangChain, LlamaIndex and
Django's VectorExtension send.  It must be installed in the server under
test (make install-vector-alias; test/run-tests does it)."""
import psycopg
import pytest
from psycopg import errors, sql


def connect(database, **kw):
    return psycopg.connect(dbname=database, autocommit=True, **kw)


def extensions(conn):
    return conn.execute('SELECT extname, extversion FROM pg_extension'
                        " WHERE extname <> 'plpgsql' ORDER BY 1").fetchall()


def test_requires_hybridsearch(empty_database):
    with connect(empty_database) as conn:
        with pytest.raises(errors.UndefinedObject, match='required extension "hybridsearch" is not installed'):
            conn.execute('CREATE EXTENSION vector')
        assert extensions(conn) == []


def test_cascade_creates_hybridsearch(empty_database):
    with connect(empty_database) as conn:
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute('CREATE EXTENSION vector CASCADE')
        assert notices == ['installing required extension "hybridsearch"']
        version = conn.execute("SELECT default_version FROM pg_available_extensions"
                               " WHERE name = 'hybridsearch'").fetchone()[0]
        assert extensions(conn) == [('hybridsearch', version), ('vector', '0.8.0')]
        assert conn.execute("SELECT '[1,2]'::vector <-> '[4,6]'").fetchone() == (5.0,)
        # it owns nothing: every object is hybridsearch's
        assert conn.execute("""SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                               WHERE e.extname = 'vector' AND d.deptype = 'e'""").fetchone() == (0,)


def test_if_not_exists_and_drop(database):
    with connect(database) as conn:
        conn.execute('CREATE TABLE items (id int, embedding vector(2))')
        conn.execute('CREATE INDEX ON items USING hybrid (embedding vector_l2_ops)')
        conn.execute('CREATE EXTENSION IF NOT EXISTS vector')
        conn.execute('CREATE EXTENSION IF NOT EXISTS vector')
        with pytest.raises(errors.DependentObjectsStillExist, match='extension vector depends on extension hybridsearch'):
            conn.execute('DROP EXTENSION hybridsearch')
        conn.execute('DROP EXTENSION vector')     # what Django's VectorExtension does backwards
        assert [e for e, _ in extensions(conn)] == ['hybridsearch']
        conn.execute("INSERT INTO items VALUES (1, '[1,2]')")
        assert conn.execute("SELECT id FROM items ORDER BY embedding <-> '[0,0]' LIMIT 1").fetchone() == (1,)


def test_trusted_for_database_owners(empty_database):
    """An application role with CREATE on the database may create the alias
    once an administrator has created hybridsearch, but not hybridsearch."""
    role = empty_database + '_app'
    with connect(empty_database) as conn:
        conn.execute(sql.SQL('DROP ROLE IF EXISTS {}').format(sql.Identifier(role)))
        conn.execute(sql.SQL('CREATE ROLE {}').format(sql.Identifier(role)))
        conn.execute(sql.SQL('GRANT CREATE ON DATABASE {} TO {}').format(
            sql.Identifier(empty_database), sql.Identifier(role)))
        try:
            conn.execute(sql.SQL('SET ROLE {}').format(sql.Identifier(role)))
            with pytest.raises(errors.InsufficientPrivilege, match='permission denied to create extension "hybridsearch"'):
                conn.execute('CREATE EXTENSION vector CASCADE')
            conn.execute('RESET ROLE')
            conn.execute('CREATE EXTENSION hybridsearch')
            conn.execute(sql.SQL('SET ROLE {}').format(sql.Identifier(role)))
            conn.execute('CREATE EXTENSION IF NOT EXISTS vector')
            conn.execute('RESET ROLE')
            assert [e for e, _ in extensions(conn)] == ['hybridsearch', 'vector']
            conn.execute('DROP EXTENSION vector')
        finally:
            conn.execute('RESET ROLE')
            conn.execute(sql.SQL('REVOKE CREATE ON DATABASE {} FROM {}').format(
                sql.Identifier(empty_database), sql.Identifier(role)))
            conn.execute(sql.SQL('DROP ROLE {}').format(sql.Identifier(role)))
