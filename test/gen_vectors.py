#!/usr/bin/env python3
"""Write ROWS random DIMS-dimensional vectors as a PostgreSQL binary COPY file
for a table (id int, embedding vector), fast enough for millions of rows.

    gen_vectors.py ROWS DIMS FILE [SEED]

Values are uniform in [-0.5, 0.5); ids run from 1.  The vector's binary form
is pgvector's: int16 dimensions, int16 zero, float4 values, big-endian.
"""
import sys

import numpy as np


def main():
    rows, dims, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
    rng = np.random.default_rng(seed)
    record = np.dtype([
        ("fields", ">i2"), ("id_len", ">i4"), ("id", ">i4"),
        ("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
        ("values", ">f4", (dims,)),
    ])
    with open(path, "wb") as out:
        out.write(b"PGCOPY\n\xff\r\n\0" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
        chunk = 65536
        for start in range(0, rows, chunk):
            count = min(chunk, rows - start)
            batch = np.zeros(count, dtype=record)
            batch["fields"] = 2
            batch["id_len"] = 4
            batch["id"] = np.arange(start + 1, start + count + 1)
            batch["vec_len"] = 4 + 4 * dims
            batch["dim"] = dims
            batch["values"] = rng.random((count, dims), dtype=np.float32) - np.float32(0.5)
            out.write(batch.tobytes())
        out.write((-1).to_bytes(2, "big", signed=True))


if __name__ == "__main__":
    main()
