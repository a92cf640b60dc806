# The GPU path's fallback, on any machine: with the library preloaded the GPU
# worker runs; where it has no CUDA module or device (CI), and under every
# injected fault, scans complete on the CPU with the same rows, one WARNING
# per backend and reason, and hybridsearch_stats counts the fallbacks.  On a
# machine with a GPU the same test checks that unfaulted scans use it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('gpu');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'hybridsearch'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE items (id int PRIMARY KEY, embedding vector(8));
	SELECT setseed(0.5);
	INSERT INTO items
	SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 3000) i;
	INSERT INTO items VALUES (3001, NULL), (3002, '[0,0,0,0,0,0,0,0]');
	CREATE INDEX items_cosine ON items USING hybrid (embedding vector_cosine_ops);
	CREATE INDEX items_l2 ON items USING hybrid (embedding vector_l2_ops) WITH (precision = half);
});

my $query = '[0.5,0.1,0.9,0.3,0.7,0.2,0.4,0.6]';
my %reference;
for my $op ('<=>', '<->')
{
	$reference{$op} = $node->safe_psql('postgres', qq{
		SET enable_indexscan = off;
		SELECT string_agg(id::text || ':' || coalesce((embedding $op '$query')::text, 'null'), ',')
		FROM (SELECT id, embedding FROM items ORDER BY embedding $op '$query', id) s});
}

# the worker is up (with or without a device)
ok($node->poll_query_until('postgres',
		q{SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()}),
	'the GPU worker runs');

sub index_scan
{
	my ($op, $settings) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET enable_seqscan = off;
		SET extra_float_digits = 3;
		$settings
		SELECT string_agg(id::text || ':' || coalesce(d::text, 'null'), ',') FROM (
			SELECT id, embedding $op '$query' AS d FROM items ORDER BY embedding $op '$query') s});
	return ($out, $err);
}

# the worker opens its device (or finds none) before settling its status
ok($node->poll_query_until('postgres',
		q{SELECT ready OR status NOT LIKE '%the GPU worker is opening%' FROM hybridsearch_gpu_status()}),
	'the worker has settled whether it has a device');
my $has_gpu = $node->safe_psql('postgres', q{SELECT ready FROM hybridsearch_gpu_status()}) eq 't';
note($has_gpu ? 'a GPU is ready: unfaulted scans run on it' : 'no GPU here: every GPU scan falls back');

for my $op ('<=>', '<->')
{
	my ($out, $err) = index_scan($op, 'SET hybridsearch.device = gpu;');
	# ties may come in another order: compare as sorted lists
	is(join(',', sort split /,/, $out), join(',', sort split /,/, $reference{$op}),
		"device = gpu, $op: same rows and distances as a sequential scan");
	if ($has_gpu)
	{
		is($err, '', "device = gpu, $op: no warning with a GPU");
	}
	else
	{
		like($err, qr/WARNING:  hybridsearch: GPU search unavailable, using the CPU/,
			"device = gpu, $op: a WARNING says the CPU answered");
	}
}

for my $fault ('no_device', 'out_of_memory', 'kernel_error', 'driver_reset', 'worker_exit')
{
	my ($out, $err) = index_scan('<=>',
		"SET hybridsearch.device = gpu; SET hybridsearch.gpu_fault = $fault;");
	is(join(',', sort split /,/, $out), join(',', sort split /,/, $reference{'<=>'}),
		"fault $fault: same rows and distances as a sequential scan");
	like($err, qr/WARNING:  hybridsearch: GPU search unavailable, using the CPU: /,
		"fault $fault: a WARNING names the failure");
	unlike($err, qr/ERROR/, "fault $fault: no error");
	if ($fault eq 'worker_exit')
	{
		# with a GPU, back means ready: a scan while it opens its device falls back
		ok($node->poll_query_until('postgres',
				$has_gpu
				? q{SELECT worker_pid IS NOT NULL AND ready FROM hybridsearch_gpu_status()}
				: q{SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()}),
			'the worker comes back after exiting');
	}
}

# with a GPU, the worker logs each launch at DEBUG1 with the kernels that
# ran it (hs_gpu_last_variant), so a benchmark can tell which plan served
if ($has_gpu)
{
	$node->safe_psql('postgres', 'ALTER SYSTEM SET log_min_messages = debug1');
	$node->reload;
	my $log_offset = -s $node->logfile;
	index_scan('<=>', 'SET hybridsearch.device = gpu;');
	ok($node->wait_for_log(
			qr/hybridsearch GPU launch: \d+ queries, k \d+, kernels [\d.]+ ms, CUDA host call [\d.]+ ms, plan \S/,
			$log_offset),
		'the worker logs a launch with the plan that ran it');
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages');
	$node->reload;
}

# one warning per backend and reason
my ($ret, $out, $err) = $node->psql('postgres', qq{
	SET enable_seqscan = off;
	SET hybridsearch.device = gpu;
	SET hybridsearch.gpu_fault = kernel_error;
	SELECT id FROM items ORDER BY embedding <=> '$query' LIMIT 1;
	SELECT id FROM items ORDER BY embedding <=> '$query' LIMIT 1;
	SELECT id FROM items ORDER BY embedding <=> '$query' LIMIT 1;});
my @warnings = ($err =~ /WARNING/g);
is(scalar @warnings, 1, 'the same failure is reported once per backend');

# device = cpu never asks the worker; auto keeps small indexes on the CPU
($ret, $out, $err) = $node->psql('postgres', qq{
	SET enable_seqscan = off;
	SET hybridsearch.gpu_fault = kernel_error;
	SET hybridsearch.device = cpu;
	SELECT id FROM items ORDER BY embedding <=> '$query' LIMIT 1;
	SET hybridsearch.device = auto;
	SET hybridsearch.gpu_min_rows = 1000000;
	SELECT id FROM items ORDER BY embedding <=> '$query' LIMIT 1;});
is($err, '', 'device = cpu and auto below gpu_min_rows stay on the CPU');

my $stats = $node->safe_psql('postgres', q{
	SELECT gpu_fallbacks > 0, cpu_scans > 0, stats_scope FROM hybridsearch_stats
	WHERE index = 'items_cosine'::regclass});
is($stats, 't|t|cluster', 'hybridsearch_stats counts fallbacks across backends');

# only a superuser may inject faults
$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
($ret, $out, $err) = $node->psql('postgres', 'SET hybridsearch.gpu_fault = kernel_error',
	extra_params => [ '-U', 'plain' ]);
like($err, qr/permission denied to set parameter "hybridsearch.gpu_fault"/,
	'gpu_fault is superuser-only');

# hybridsearch.gpu_devices takes "all" or distinct device numbers
for my $bad ('x', '0,0', '-1', '0,,1', '64')
{
	($ret, $out, $err) = $node->psql('postgres',
		"ALTER SYSTEM SET hybridsearch.gpu_devices = '$bad'");
	like($err, qr/invalid value for parameter "hybridsearch.gpu_devices"/,
		"gpu_devices = '$bad' is refused");
}

# Each index copy split in 3 stripes on device 0: the multi-GPU path on one
# GPU (or, without one, its fallback).  Appends of 1, 2 and 3 rows land
# the stripes at every offset.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET hybridsearch.gpu_devices = '0';
	ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = 3;
	SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', $has_gpu
		? q{SELECT ready AND devices = '{0}' AND parts_per_index = 3 FROM hybridsearch_gpu_status()}
		: q{SELECT NOT ready FROM hybridsearch_gpu_status()}),
	'the worker reopens with 3 parts per index');
for my $step (0 .. 3)
{
	if ($step > 0)
	{
		$node->safe_psql('postgres', qq{
			INSERT INTO items
			SELECT 4000 + $step * 10 + i,
				(SELECT array_agg(random()::real) FROM generate_series(1, 8) WHERE i > 0)::vector
			FROM generate_series(1, $step) i});
	}
	for my $op ('<=>', '<->')
	{
		my $expected = $node->safe_psql('postgres', qq{
			SET enable_indexscan = off;
			SET extra_float_digits = 3;
			SELECT string_agg(id::text || ':' || coalesce((embedding $op '$query')::text, 'null'), ',')
			FROM (SELECT id, embedding FROM items ORDER BY embedding $op '$query', id) s});
		my ($got, $warn) = index_scan($op, 'SET hybridsearch.device = gpu;');
		is(join(',', sort split /,/, $got), join(',', sort split /,/, $expected),
			"3 parts, after $step more rows, $op: same rows and distances as a sequential scan");
		unlike($warn, qr/ERROR/, "3 parts, after $step more rows, $op: no error");
	}
}

$node->stop;
done_testing();
