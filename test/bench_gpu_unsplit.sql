-- Included by bench_index.sql: back to one part per GPU.
ALTER SYSTEM RESET hybridsearch.gpu_parts_per_device;
SELECT pg_reload_conf() \g /dev/null
SELECT bench_wait_parts(1) \g /dev/null
