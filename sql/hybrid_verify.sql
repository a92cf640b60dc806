--
-- hybridsearch_verify(): a sound index passes through inserts, NULLs,
-- updates (HOT and not), deletes, VACUUM, an open transaction's rows, a
-- partial expression index and REINDEX CONCURRENTLY; bad arguments and
-- non-owners get errors with their SQLSTATE.  (test/t/060_faults.pl
-- corrupts pages on disk and checks what it reports.)
--
CREATE TABLE hv (id int PRIMARY KEY, note text, v vector(3));
INSERT INTO hv SELECT i, 'n', ARRAY[i % 7, i % 11, i % 13]::real[]
	FROM generate_series(1, 500) i;
INSERT INTO hv VALUES (501, 'n', NULL), (502, 'n', NULL);
CREATE INDEX hv_l2 ON hv USING hybrid (v vector_l2_ops);
CREATE INDEX hv_cos ON hv USING hybrid (v vector_cosine_ops) WITH (precision = half);
SELECT * FROM hybridsearch_verify('hv_l2');
SELECT * FROM hybridsearch_verify('hv_cos');

-- non-HOT updates (the vector changes), HOT updates, deletes
UPDATE hv SET v = v + '[1,1,1]' WHERE id <= 50;
UPDATE hv SET note = 'hot' WHERE id BETWEEN 51 AND 100;
UPDATE hv SET v = NULL WHERE id BETWEEN 101 AND 110;
DELETE FROM hv WHERE id BETWEEN 111 AND 150 OR id = 501;
SELECT * FROM hybridsearch_verify('hv_l2');
VACUUM hv;
SELECT * FROM hybridsearch_verify('hv_l2');
SELECT * FROM hybridsearch_verify('hv_cos');

-- rows of the current transaction, inserted and deleted
BEGIN;
INSERT INTO hv SELECT i, 'x', '[1,2,3]' FROM generate_series(1001, 1010) i;
DELETE FROM hv WHERE id BETWEEN 151 AND 160;
SELECT * FROM hybridsearch_verify('hv_l2');
ROLLBACK;
SELECT * FROM hybridsearch_verify('hv_l2');

-- a partial index on an expression, built concurrently; REINDEX CONCURRENTLY
CREATE INDEX CONCURRENTLY hv_expr ON hv USING hybrid ((v * '[2,2,2]')) WHERE id > 300;
SELECT * FROM hybridsearch_verify('hv_expr');
REINDEX INDEX CONCURRENTLY hv_l2;
SELECT * FROM hybridsearch_verify('hv_l2');

-- an empty table, an unlogged one
CREATE UNLOGGED TABLE hv_empty (v vector);
CREATE INDEX hv_empty_idx ON hv_empty USING hybrid (v);
SELECT * FROM hybridsearch_verify('hv_empty_idx');

-- errors
SELECT * FROM hybridsearch_verify('hv');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hybridsearch_verify('hv_pkey');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hybridsearch_verify(0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM hybridsearch_verify(NULL);
CREATE TABLE hv_parted (id int, v vector(2)) PARTITION BY RANGE (id);
CREATE TABLE hv_part1 PARTITION OF hv_parted FOR VALUES FROM (0) TO (10);
CREATE INDEX hv_parted_idx ON hv_parted USING hybrid (v);
SELECT * FROM hybridsearch_verify('hv_parted_idx');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_class c, LATERAL hybridsearch_verify(c.oid)
	WHERE c.relname LIKE 'hv_part1_%';
-- only the table's owner (or a superuser) may verify
CREATE ROLE hv_other;
SET ROLE hv_other;
SELECT * FROM hybridsearch_verify('hv_l2');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
ALTER TABLE hv OWNER TO hv_other;
SET ROLE hv_other;
SELECT entries > 0 AS owner_may FROM hybridsearch_verify('hv_l2');
RESET ROLE;

DROP TABLE hv, hv_empty, hv_parted;
DROP ROLE hv_other;
