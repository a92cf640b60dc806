# The GPU worker's request path without a GPU: test/gpu/fake_cuda.c, a CPU
# stand-in for the CUDA module (exact top k by brute force), is built here
# and loaded by the worker's CUDA host process in its place
# (HYBRIDSEARCH_CUDA_MODULE).  With HS_FAKE_LAUNCH_MAX=3 a launch takes at
# most 3 of the queries waiting (hs_gpu_launch_size), and the worker hands
# the others back to its next round, oldest first.  Checks:
#   - the worker reports GPU 0 ready on the stand-in;
#   - 8 pgbench clients run knn_check (the index scan against a sequential
#     scan in one snapshot) over fp32 and half-precision copies, four
#     metrics: no error,
#     every scan on the GPU path, no fallback;
#   - no launch took more than 3 queries, launches left queries for the
#     next one, and launches started while another was in flight (two
#     lanes: the worker starts a batch before it takes the last one's
#     answers), each taking the 0.3 ms of a simulated device
#     (HS_FAKE_KERNEL_MS) that the worker paces the next by;
#   - with hybridsearch.gpu_launches_in_flight = 1, the same queries, no
#     launch started while another ran;
#   - with inserts, updates and deletes beside the queries (the worker's
#     copies grow and are refilled): every answer still exact;
#   - afterwards every index answers like a sequential scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $root = "$FindBin::RealBin/../..";
my $module = "$PostgreSQL::Test::Utils::tmp_check/fake_cuda.so";
my $cc = $ENV{CC} // 'cc';
my ($built) = run_log([ $cc, '-O2', '-shared', '-fPIC', "-I$root/cuda", '-o', $module,
	"$root/test/gpu/fake_cuda.c", '-lm' ]);
ok($built, 'the CPU stand-in for the CUDA module builds') or BAIL_OUT('no stand-in module');

$ENV{HYBRIDSEARCH_CUDA_MODULE} = $module;
$ENV{HS_FAKE_LAUNCH_MAX} = 3;
# each search takes 0.3 ms of a simulated device: launches stay in flight
$ENV{HS_FAKE_KERNEL_MS} = 0.3;
my $node = preloaded_node('stand_in', 'hybridsearch.device = gpu');

my $v16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE n > 0)::float8[]::vector';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	SELECT setseed(0.7);
	CREATE SEQUENCE ids;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE items (id bigint, f int, v vector(16));
	INSERT INTO items SELECT nextval('ids'), n % 1000, $v16 FROM generate_series(1, 5000) n;
	UPDATE items SET v = NULL WHERE id % 211 = 0;
	UPDATE items SET v = (SELECT v FROM items WHERE id = 1) WHERE id % 223 = 0;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops);
	CREATE INDEX items_l1 ON items USING hybrid (v vector_l1_ops);
	INSERT INTO qvec SELECT 'items', 'r1', $v16 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 1;
});
$node->safe_psql('postgres', knn_check_sql());

ok($node->poll_query_until('postgres',
		q{SELECT ready AND status LIKE 'GPU 0 ready%' FROM hybridsearch_gpu_status()}),
	'the worker opens GPU 0 on the stand-in');

my $q16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16))::float8[]::vector';
my $queries = items_check_script(q => $q16, lim => 60, ids => 5000, cos_where => 'f < 500');

sub gpu_totals
{
	return $node->safe_psql('postgres', q{
		SELECT sum(gpu_scans) || ' ' || sum(gpu_fallbacks) || ' ' || sum(cpu_scans)
		FROM hybridsearch_stats WHERE index::text LIKE 'items_%'});
}

my $clients = 8;
my $per_client = 60;
my $total = $clients * $per_client;

# 8 clients' checked queries with the worker's launches logged: its log lines
my $phase = 0;
sub checked_queries
{
	my ($what) = @_;
	$phase++;
	my $log_offset = -s $node->logfile;
	$node->safe_psql('postgres', 'ALTER SYSTEM SET log_min_messages = debug1');
	$node->reload;
	my ($scans0, $fallbacks0) = split ' ', gpu_totals();
	$node->pgbench(
		"--no-vacuum --client=$clients --jobs=2 --transactions=$per_client",
		0,
		[ qr{processed: $total/$total} ],
		[ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
		"pgbench: $clients clients' checked queries on the stand-in, $what",
		{ "125_queries_$phase" => $queries });
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages');
	$node->reload;
	my ($scans1, $fallbacks1) = split ' ', gpu_totals();
	cmp_ok($scans1 - $scans0, '>=', $total * 4, "$what: every checked index scan ran on the GPU path")
	  or diag("GPU scans $scans0 -> $scans1");
	is($fallbacks1 - $fallbacks0, 0, "$what: no scan fell back to the CPU");
	return slurp_file($node->logfile, $log_offset);
}

my $log = checked_queries('two launches in flight');
my @sizes = $log =~ /hybridsearch GPU launch: (\d+) queries/g;
my @left = $log =~ /DETAIL:  (\d+) queries left for the next launch/g;
my $largest = (sort { $b <=> $a } @sizes)[0] // 0;
cmp_ok(scalar(@sizes), '>', 0, 'the worker logged its launches');
cmp_ok($largest, '<=', 3, 'no launch took more queries than the launch size allows');
cmp_ok(scalar(@left), '>', 0, 'launches left queries for the next one')
  or diag(scalar(@sizes) . ' launches, sizes ' . join(',', @sizes[ 0 .. ($#sizes < 20 ? $#sizes : 20) ]));
my @behind = $log =~ /DETAIL:  .*started while another launch ran/g;
cmp_ok(scalar(@behind), '>', 0, 'launches started while another was in flight')
  or diag(scalar(@sizes) . ' launches');
like($log, qr/hybridsearch GPU launch: \d+ queries, k \d+, kernels 0\.300 ms/,
	"the launches' kernel time, by which the worker paces the next, is the simulated device's");

# one launch at a time: each waited for before the next starts
$node->safe_psql('postgres', 'ALTER SYSTEM SET hybridsearch.gpu_launches_in_flight = 1');
$node->reload;
$log = checked_queries('one launch at a time');
like($log, qr/hybridsearch GPU launch: \d+ queries/, 'one at a time: the worker logged its launches');
unlike($log, qr/started while another launch ran/, 'one at a time: no launch started while another ran');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET hybridsearch.gpu_launches_in_flight');
$node->reload;

# writes beside the queries: the worker's copies grow and are refilled
my %mixed = (
	'query@6' => $queries,
	writer_scripts(q => $q16, ids => 5000, delete_ids => 6000, inserts => 2, updates => 1, deletes => 1));
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$per_client",
	0,
	[ qr{processed: $total/$total} ],
	[ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: checked queries beside inserts, updates and deletes',
	\%mixed);

$node->safe_psql('postgres', 'VACUUM items');
my $run = node_runner($node);
compare_plans($run, 'after the load', '',
	knn_checks(table => 'items', queries => [ 'r1', 'row' ], wheres => [ '', 'f < 100' ], limits => [ 10, 300 ]));

$node->stop;
done_testing();
