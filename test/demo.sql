-- The demo session: vectors in a table, nearest neighbours by each metric.
\pset footer off
CREATE EXTENSION IF NOT EXISTS hybridsearch;
\echo '== loading 100000 random 128-dimensional vectors (first run only)'
CREATE TABLE IF NOT EXISTS demo_items (id int PRIMARY KEY, embedding vector(128));
\timing on
INSERT INTO demo_items
SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 128) WHERE i > 0)::vector
FROM generate_series(1, 100000) i
WHERE NOT EXISTS (SELECT FROM demo_items);
\timing off
SELECT count(*) AS rows, max(vector_dims(embedding)) AS dims FROM demo_items;

\echo '== the 5 nearest neighbours of item 42 by cosine distance'
\timing on
SELECT id, embedding <=> (SELECT embedding FROM demo_items WHERE id = 42) AS cosine_distance
FROM demo_items ORDER BY 2 LIMIT 5;
\echo '== ... by L2 distance'
SELECT id, embedding <-> (SELECT embedding FROM demo_items WHERE id = 42) AS l2_distance
FROM demo_items ORDER BY 2 LIMIT 5;
\echo '== ... by inner product'
SELECT id, embedding <#> (SELECT embedding FROM demo_items WHERE id = 42) AS negative_inner_product
FROM demo_items ORDER BY 2 LIMIT 5;
\timing off
