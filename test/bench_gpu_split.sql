-- Included by bench_index.sql: the GPU worker splits every index copy in two
-- parts per GPU (the multi-GPU path, even on one GPU).  ALTER SYSTEM cannot
-- run inside a function, hence a file of its own.
ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = 2;
SELECT pg_reload_conf() \g /dev/null
SELECT bench_wait_parts(2) \g /dev/null
