"""Compares what prometheus-postgres-exporter exposed (a saved /metrics
page) with what hybridsearch_stats and hybridsearch_gpu_status() say in the
cluster that PGHOST, PGPORT, PGUSER and PGDATABASE name.  Used by
test/exporter-test; prints one "metrics ... ok" or "metrics ... FAILED" line
per check and exits non-zero when one failed.

    exporter_check.py METRICS_FILE INDEX=SCANS...

INDEX=SCANS: the index scans the test ran on that index, which its scan
counters must add up to exactly.
"""
import json
import math
import re
import subprocess
import sys

SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

# exporter metric -> (column of hybridsearch_stats, factor)
INDEX_METRICS = {
    'rows': ('rows', 1), 'null_rows': ('null_rows', 1),
    'dead_rows': ('dead_rows', 1), 'dimensions': ('dimensions', 1),
    'cpu_scans': ('cpu_scans', 1), 'gpu_scans': ('gpu_scans', 1),
    'gpu_fallbacks': ('gpu_fallbacks', 1),
    'mean_scan_seconds': ('mean_scan_ms', 1e-3),
    'p95_scan_seconds': ('p95_scan_ms', 1e-3),
    'cpu_cached_rows': ('cpu_cached_rows', 1),
    'cpu_cached_bytes': ('cpu_cached_bytes', 1),
    'gpu_resident_rows': ('gpu_resident_rows', 1),
    'gpu_resident_bytes': ('gpu_resident_bytes', 1),
    'mean_gpu_batch': ('mean_gpu_batch', 1),
    'mean_gpu_kernel_seconds': ('mean_gpu_kernel_ms', 1e-3),
    'copy_loads': ('copy_loads', 1), 'copy_evictions': ('copy_evictions', 1),
    'last_load_seconds': ('last_load_ms', 1e-3),
    'streamed_scans': ('streamed_scans', 1),
}
GPU_METRICS = ('worker_up', 'ready', 'resident_indexes', 'resident_bytes',
               'devices', 'parts_per_index')

failures = 0


def check(name, ok, detail=''):
    global failures
    print(f"metrics {name} ... {'ok' if ok else 'FAILED'}"
          + (f' ({detail})' if detail and not ok else ''))
    failures += not ok


def same(exported, expected):
    if expected is None:
        return math.isnan(exported)
    return math.isclose(exported, expected, rel_tol=1e-9, abs_tol=1e-12)


def parse(path):
    samples = []
    with open(path) as f:
        for line in f:
            m = SAMPLE.match(line.rstrip('\n'))
            if m and not line.startswith('#'):
                labels = {k: v.replace('\\"', '"').replace('\\\\', '\\')
                          for k, v in LABEL.findall(m.group(2) or '')}
                samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def sql_json(query):
    out = subprocess.run(['psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                          '-c', f'SELECT json_agg(q) FROM ({query}) q'],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out) or []


def main():
    samples = parse(sys.argv[1])
    scans_run = dict(arg.split('=') for arg in sys.argv[2:])

    def find(name, **labels):
        return [v for n, l, v in samples
                if n == name and all(l.get(k) == w for k, w in labels.items())]

    load_errors = find('pg_exporter_user_queries_load_error')
    check('query file loaded', load_errors and not any(load_errors),
          f'pg_exporter_user_queries_load_error {load_errors}')
    scrape_errors = find('pg_exporter_last_scrape_error')
    check('scrape without errors', scrape_errors == [0.0],
          f'pg_exporter_last_scrape_error {scrape_errors}')

    stats = sql_json('SELECT * FROM hybridsearch_stats')
    check('every index exported',
          sorted(s['index'] for s in stats) == sorted(scans_run),
          f"indexes {[s['index'] for s in stats]}")
    for s in stats:
        index = s['index']
        labels = {'datname': 'hstest', 'index': index, 'table': s['table'],
                  'precision': s['search_precision'],
                  'stats_scope': s['stats_scope']}
        check(f'{index} labels', s['stats_scope'] == 'cluster'
              and len(find('hybridsearch_index_rows', **labels)) == 1,
              f'want one series labelled {labels}')
        for metric, (column, factor) in INDEX_METRICS.items():
            values = find(f'hybridsearch_index_{metric}', index=index)
            want = None if s[column] is None else s[column] * factor
            check(f'hybridsearch_index_{metric} {index}',
                  len(values) == 1 and same(values[0], want),
                  f'exported {values}, hybridsearch_stats says {want}')
        scans = (find('hybridsearch_index_cpu_scans', index=index) +
                 find('hybridsearch_index_gpu_scans', index=index) +
                 find('hybridsearch_index_streamed_scans', index=index))
        check(f'{index} scans counted', sum(scans) == int(scans_run.get(index, -1)),
              f'exported {scans}, the test ran {scans_run.get(index)}')

    gpu = sql_json("""SELECT status, (worker_pid IS NOT NULL)::int AS worker_up,
                      ready::int AS ready, resident_indexes, resident_bytes,
                      coalesce(cardinality(devices), 0) AS devices, parts_per_index
                      FROM hybridsearch_gpu_status()""")[0]
    check('GPU worker up (preloaded)', gpu['worker_up'] == 1, f'SQL says {gpu}')
    for metric in GPU_METRICS:
        values = find(f'hybridsearch_gpu_{metric}', status=gpu['status'])
        check(f'hybridsearch_gpu_{metric}',
              len(values) == 1 and same(values[0], gpu[metric]),
              f"exported {find(f'hybridsearch_gpu_{metric}')}, hybridsearch_gpu_status() says {gpu[metric]} ({gpu['status']})")
    sys.exit(1 if failures else 0)


main()
