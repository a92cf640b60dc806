--
-- pgvector_readme_types: the statements of pgvector's README sections
-- "Half-Precision Vectors", "Half-Precision Indexing", "Binary Vectors",
-- "Binary Quantization" and "Sparse Vectors", unchanged.  Left out: the
-- indexes USING hnsw (pgvector's access method, not ours):
--   CREATE INDEX ON items USING hnsw ((embedding::halfvec(3)) halfvec_l2_ops);
--   CREATE INDEX ON items USING hnsw ((binary_quantize(embedding)::bit(3)) bit_hamming_ops);
-- hybrid_types runs them USING hybrid.
-- Each section starts from its own items table, so the tables between the
-- sections are dropped (not part of the README).
--

-- Half-Precision Vectors
CREATE TABLE items (id bigserial PRIMARY KEY, embedding halfvec(3));
INSERT INTO items (embedding) VALUES ('[1,2,3]'), ('[4,5,6]');
SELECT * FROM items ORDER BY embedding <-> '[3,1,2]' LIMIT 5;
DROP TABLE items;

-- Half-Precision Indexing: over the vector(3) table of "Getting Started"
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector(3));
INSERT INTO items (embedding) VALUES ('[1,2,3]'), ('[4,5,6]');
SELECT * FROM items ORDER BY embedding::halfvec(3) <-> '[1,2,3]' LIMIT 5;

-- Binary Quantization: over the same vector(3) table.  The literal
-- '[1,-2,3]' alone is of unknown type, and binary_quantize takes vector or
-- halfvec, as in pgvector 0.8: PostgreSQL cannot choose (pgvector raises the
-- same error); with the literal cast to vector the statements run.
SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]') LIMIT 5;
SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 5;
-- PostgreSQL 15 requires an alias for a subquery in FROM (16 does not):
-- pgvector's README statement fails there with pgvector too
SELECT * FROM (
    SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]') LIMIT 20
) ORDER BY embedding <=> '[1,-2,3]' LIMIT 5;
-- the same with an alias (and the cast)
SELECT * FROM (
    SELECT * FROM items ORDER BY binary_quantize(embedding)::bit(3) <~> binary_quantize('[1,-2,3]'::vector) LIMIT 20
) candidates ORDER BY embedding <=> '[1,-2,3]' LIMIT 5;
DROP TABLE items;

-- Binary Vectors
CREATE TABLE items (id bigserial PRIMARY KEY, embedding bit(3));
INSERT INTO items (embedding) VALUES ('000'), ('111');
SELECT * FROM items ORDER BY embedding <~> '101' LIMIT 5;
SELECT * FROM items ORDER BY bit_count(embedding # '101') LIMIT 5;
-- "Also supports Jaccard distance (<%>)"
SELECT * FROM items ORDER BY embedding <%> '101' LIMIT 5;
DROP TABLE items;

-- Sparse Vectors
CREATE TABLE items (id bigserial PRIMARY KEY, embedding sparsevec(5));
INSERT INTO items (embedding) VALUES ('{1:1,3:2,5:3}/5'), ('{1:4,3:5,5:6}/5');
SELECT * FROM items ORDER BY embedding <-> '{1:3,3:1,5:2}/5' LIMIT 5;
DROP TABLE items;
