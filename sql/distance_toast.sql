-- Distances between out-of-line (TOASTed) values: each call must see its
-- own arguments' values, whether one argument is the same value on every
-- row (a query vector from a subquery, detoasted once per query) or both
-- change from row to row.
SELECT typstorage FROM pg_type WHERE typname IN ('vector', 'halfvec', 'sparsevec') ORDER BY typname;

CREATE TABLE distance_toast (id int PRIMARY KEY, v vector(700), h halfvec(1400), s sparsevec(1000));
INSERT INTO distance_toast
SELECT i,
       (SELECT array_agg(sin(i * 7 + d) ORDER BY d) FROM generate_series(1, 700) d)::vector,
       (SELECT array_agg(cos(i * 3 + d) ORDER BY d) FROM generate_series(1, 1400) d)::halfvec,
       (SELECT array_agg(CASE WHEN d % 2 = i % 2 THEN 0 ELSE sin(i + d) END ORDER BY d)
        FROM generate_series(1, 1000) d)::vector::sparsevec
FROM generate_series(1, 12) i;
-- every value is stored out of line: 36 values in the TOAST table
\set ECHO none
SELECT format('SELECT count(DISTINCT chunk_id) AS toasted_values FROM %s', reltoastrelid::regclass)
FROM pg_class WHERE relname = 'distance_toast' \gexec
\set ECHO all

-- the same distances from in-memory copies (a text round trip)
CREATE TEMP TABLE distance_inline AS
SELECT id, v::text AS v, h::text AS h, s::text AS s FROM distance_toast;

-- both arguments out of line and changing on every row
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE a.v <-> b.v IS DISTINCT FROM x.v::vector <-> y.v::vector
                           OR a.v <=> b.v IS DISTINCT FROM x.v::vector <=> y.v::vector
                           OR a.v <#> b.v IS DISTINCT FROM x.v::vector <#> y.v::vector
                           OR a.v <+> b.v IS DISTINCT FROM x.v::vector <+> y.v::vector) AS vector_differing,
       count(*) FILTER (WHERE a.h <-> b.h IS DISTINCT FROM x.h::halfvec <-> y.h::halfvec
                           OR a.h <=> b.h IS DISTINCT FROM x.h::halfvec <=> y.h::halfvec
                           OR a.h <#> b.h IS DISTINCT FROM x.h::halfvec <#> y.h::halfvec) AS halfvec_differing,
       count(*) FILTER (WHERE a.s <-> b.s IS DISTINCT FROM x.s::sparsevec <-> y.s::sparsevec
                           OR a.s <=> b.s IS DISTINCT FROM x.s::sparsevec <=> y.s::sparsevec
                           OR a.s <#> b.s IS DISTINCT FROM x.s::sparsevec <#> y.s::sparsevec) AS sparsevec_differing,
       count(DISTINCT round((a.v <-> b.v)::numeric, 3)) AS distinct_l2
FROM distance_toast a JOIN distance_toast b ON true
JOIN distance_inline x ON x.id = a.id JOIN distance_inline y ON y.id = b.id;

-- one argument the same out-of-line value on every row, the other changing
SELECT t.id, round((t.v <-> (SELECT v FROM distance_toast WHERE id = 3))::numeric, 3) AS l2,
       round((t.h <=> (SELECT h FROM distance_toast WHERE id = 3))::numeric, 4) AS half_cosine,
       round(((SELECT s FROM distance_toast WHERE id = 3) <#> t.s)::numeric, 3) AS sparse_ip,
       (t.v <-> (SELECT v FROM distance_toast WHERE id = 3)) = (t.v <-> (SELECT v::text::vector FROM distance_toast WHERE id = 3)) AS same_as_inline
FROM distance_toast t ORDER BY t.id;

-- an index scan ordered by the distance to another row's out-of-line value
CREATE INDEX distance_toast_idx ON distance_toast USING hybrid (v vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM distance_toast ORDER BY v <-> (SELECT v FROM distance_toast WHERE id = 5) LIMIT 4;
SELECT id, round((v <-> (SELECT v FROM distance_toast WHERE id = 5))::numeric, 3) AS l2
FROM distance_toast ORDER BY v <-> (SELECT v FROM distance_toast WHERE id = 5) LIMIT 4;
RESET enable_seqscan;
DROP TABLE distance_toast;
