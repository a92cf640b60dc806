-- The planner chooses between a hybrid index scan and a btree filter with a
-- sort by the cost model of hybrid_cost.c: plan shapes at a few
-- selectivities, with the copy loaded in this backend, and with none (the
-- scans would stream the pages).
SET hybridsearch.cpu_threads = 1;
SELECT setseed(0.42);
CREATE TABLE planner_items (id int, category int, embedding vector(32));
INSERT INTO planner_items
SELECT i, i % 1000, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 32) WHERE i > 0)::vector
FROM generate_series(1, 20000) i;
CREATE INDEX planner_items_category ON planner_items (category);
CREATE INDEX planner_items_embedding ON planner_items USING hybrid (embedding vector_l2_ops);
ANALYZE planner_items;
-- a scan loads this backend's copy
SELECT count(*) FROM (SELECT id FROM planner_items
	ORDER BY embedding <-> (SELECT embedding FROM planner_items WHERE id = 1) LIMIT 5) s;
-- 0.1% of the rows: the btree and a sort of 20 rows
EXPLAIN (COSTS OFF) SELECT id FROM planner_items WHERE category < 1
	ORDER BY embedding <-> (SELECT embedding FROM planner_items WHERE id = 1) LIMIT 10;
-- 50% and all rows: the hybrid index
EXPLAIN (COSTS OFF) SELECT id FROM planner_items WHERE category < 500
	ORDER BY embedding <-> (SELECT embedding FROM planner_items WHERE id = 1) LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM planner_items
	ORDER BY embedding <-> (SELECT embedding FROM planner_items WHERE id = 1) LIMIT 10;
DROP TABLE planner_items;
