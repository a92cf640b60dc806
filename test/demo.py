"""The main job: semantic search over the descriptions of Debian's packages.

Run by test/demo.sh against the demo's server (PG* environment variables).
The first run embeds the corpus with all-MiniLM-L6-v2 (test/minilm.py),
loads it with binary COPY and builds a hybrid index; later runs reuse all
of it.  Then it answers natural-language questions, printing the nearest
packages with their distances, the path each query took and timings.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from tqdm import tqdm

from minilm import MiniLM

CORPUS_SIZE = int(os.environ.get("HYBRIDSEARCH_DEMO_DOCS", "20000"))
QUESTIONS = [
    "convert images between file formats",
    "a server for storing embeddings and searching them by similarity",
    "play chess against the computer",
    "edit source code with syntax highlighting",
    "read electronic books",
]


def debian_descriptions():
    """(package, short description) of every package apt knows, by name."""
    listing = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True,
                             check=True).stdout
    packages = {}
    name = None
    for line in listing.splitlines():
        if line.startswith("Package: "):
            name = line[len("Package: "):]
        elif line.startswith("Description: ") and name:
            packages.setdefault(name, line[len("Description: "):])
    return sorted(packages.items())


def sample(items, count):
    """Every n-th item, so the sample spans the whole alphabet."""
    step = max(1, len(items) // count)
    return items[::step][:count]


def load_corpus(conn, model):
    packages = sample(debian_descriptions(), CORPUS_SIZE)
    print(f"== embedding {len(packages)} Debian package descriptions with all-MiniLM-L6-v2")
    started = time.time()
    with tqdm(total=len(packages), unit="doc", file=sys.stdout) as progress:
        vectors = model.encode([f"{name}: {text}" for name, text in packages], progress=progress)
    print(f"   embedded in {time.time() - started:.1f} s")
    started = time.time()
    with conn.cursor() as cur, cur.copy(
            "COPY docs (id, package, description, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "text", "text", "vector"])
        for i, ((name, text), vector) in enumerate(tqdm(list(zip(packages, vectors)), unit="row",
                                                        desc="COPY", file=sys.stdout)):
            copy.write_row((i + 1, name, text, vector))
    print(f"   loaded with binary COPY in {time.time() - started:.1f} s")
    started = time.time()
    conn.execute("CREATE INDEX docs_embedding ON docs USING hybrid (embedding vector_cosine_ops)")
    conn.execute("CREATE INDEX docs_text ON docs USING gin (to_tsvector('english', description))")
    conn.execute("ANALYZE docs")
    print(f"   hybrid index built in {time.time() - started:.2f} s")


def scan_counts(conn):
    return conn.execute(
        "SELECT cpu_scans, gpu_scans FROM hybridsearch_stats WHERE index = 'docs_embedding'::regclass"
    ).fetchone()


def ask(conn, model, question):
    vector = model.encode([question])[0]
    before = scan_counts(conn)
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT package, description, embedding <=> %s AS distance "
        "FROM docs ORDER BY embedding <=> %s LIMIT 5", (vector, vector)).fetchall()
    index_ms = (time.perf_counter() - started) * 1000
    after = scan_counts(conn)
    path = "GPU" if after[1] > before[1] else "CPU"
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        started = time.perf_counter()
        seq_rows = conn.execute(
            "SELECT package FROM docs ORDER BY embedding <=> %s LIMIT 5", (vector,)).fetchall()
        seq_ms = (time.perf_counter() - started) * 1000
    same = [r[0] for r in rows] == [r[0] for r in seq_rows]
    print(f"\n== {question!r}")
    for package, description, distance in rows:
        print(f"   {distance:.4f}  {package}: {description}")
    print(f"   path: {path}; hybrid index {index_ms:.1f} ms, sequential scan {seq_ms:.1f} ms"
          f" ({'same rows' if same else 'DIFFERENT rows'})")


def ask_hybrid(conn, model, question):
    """Full-text and vector rankings fused by reciprocal rank (hybridsearch_rrf)."""
    vector = model.encode([question])[0]
    started = time.perf_counter()
    rows = conn.execute("""
        SELECT d.package, r.score, r.text_rank, r.vector_rank
        FROM hybridsearch_rrf(
                 ARRAY(SELECT id FROM docs, websearch_to_tsquery('english', %s) q
                       WHERE to_tsvector('english', description) @@ q
                       ORDER BY ts_rank_cd(to_tsvector('english', description), q) DESC, id
                       LIMIT 50),
                 ARRAY(SELECT id FROM docs ORDER BY embedding <=> %s LIMIT 50)) r
        JOIN docs d USING (id)
        ORDER BY r.score DESC, r.id LIMIT 5""", (question, vector)).fetchall()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"\n== hybrid ranking (full text + vector, reciprocal rank fusion): {question!r}")
    for package, score, text_rank, vector_rank in rows:
        print(f"   {score:.4f}  {package}  (text rank {text_rank or '-'}, vector rank {vector_rank or '-'})")
    print(f"   {elapsed:.1f} ms")


def main():
    cache = Path(os.environ.get("HYBRIDSEARCH_DEMO_CACHE", ".demo"))
    started = time.time()
    model = MiniLM.from_package(cache / "model")
    print(f"== model loaded from the installed package in {time.time() - started:.1f} s")
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hybridsearch")
        register_vector(conn)
        conn.execute("""CREATE TABLE IF NOT EXISTS docs (
            id int PRIMARY KEY, package text NOT NULL, description text NOT NULL,
            embedding vector(384) NOT NULL)""")
        count = conn.execute("SELECT count(*) FROM docs").fetchone()[0]
        if count == 0:
            load_corpus(conn, model)
        else:
            print(f"== reusing {count} embedded descriptions from the last run")
        status = conn.execute("SELECT ready, status FROM hybridsearch_gpu_status()").fetchone()
        print(f"== GPU worker: {'ready' if status[0] else 'not used'} ({status[1]})")
        for question in QUESTIONS:
            ask(conn, model, question)
        ask_hybrid(conn, model, "spreadsheet")


if __name__ == "__main__":
    main()
