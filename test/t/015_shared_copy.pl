# The shared copy (store.h): one dense copy per index per server, read by
# every backend.  Checks, with the preload:
#   - many connections share one copy: one load in hybridsearch_stats, and a
#     new connection's scan adds little private memory (RssAnon of /proc/self/status) while
#     the copy shows as shared memory;
#   - INSERT, DELETE + VACUUM, REINDEX, TRUNCATE and DROP INDEX while another
#     session holds a pin (an open cursor in the middle of a scan), exact
#     throughout, and the pinned scan finishes exactly on its own snapshot;
#   - eviction under a small hybridsearch.shared_cache_size, an index too
#     large for it streams its pages, exactly;
#   - kill -9 of a backend holding a pin: the server restarts, and scans
#     load the copy anew and stay exact;
#   - hybridsearch_prewarm() and the hybridsearch.prewarm setting: after a
#     restart the copy is loaded before the first query;
#   - without the preload: private copies, exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $node = PostgreSQL::Test::Cluster->new('shared');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 32MB
shared_buffers = 32MB
restart_after_crash = on
max_parallel_workers_per_gather = 0
jit = off
});
$node->start;

# 3000 x 768 (about 10 MB as a copy) and 8000 x 768 (about 26 MB): both fit
# 32 MB alone, not together, so each evicts the other; 3000 x 4000 (48 MB)
# never fits.
$node->safe_psql('postgres', 'CREATE EXTENSION hybridsearch;' . knn_check_sql() . q{
	CREATE TABLE a (id bigint PRIMARY KEY, v vector(768));
	INSERT INTO a SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 768) WHERE i > 0)::vector
		FROM generate_series(1, 3000) i;
	INSERT INTO a VALUES (3001, NULL);
	CREATE INDEX a_cos ON a USING hybrid (v vector_cosine_ops);
	CREATE TABLE b (id bigint PRIMARY KEY, v vector(768));
	INSERT INTO b SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 768) WHERE i > 0)::vector
		FROM generate_series(1, 8000) i;
	CREATE INDEX b_l2 ON b USING hybrid (v vector_l2_ops);
	CREATE TABLE big (id bigint PRIMARY KEY, v vector(4000));
	INSERT INTO big SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 4000) WHERE i > 0)::vector
		FROM generate_series(1, 3000) i;
	CREATE INDEX big_ip ON big USING hybrid (v vector_ip_ops);
});

my $q_a = "(SELECT v FROM a WHERE id = 17)";
my $q_b = "(SELECT v FROM b WHERE id = 5)";

sub exact
{
	my ($label, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	# a WARNING (of a GPU fallback, when the GPU runner forces the GPU) is no failure
	ok($ret == 0 && $err !~ /ERROR|FATAL/, "$label: index scans equal sequential scans") || diag($err);
}

sub stat_of
{
	my ($index, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM hybridsearch_stats WHERE index = '$index'::regclass");
}

# A backend's private memory (RssAnon: the shared copy is RssShmem).
sub private_kb
{
	my ($text) = @_;
	return $text =~ /^RssAnon:\s+(\d+) kB/m ? $1 : -1;
}

# --- sharing ---------------------------------------------------------------
exact('first scan of a', "SELECT knn_check('a', '<=>', $q_a, 10, 'true')");
is(stat_of('a_cos', 'copy_state, copy_scope, copy_loads, cpu_cached_rows'),
	'ready|shared|1|3000', 'the first scan loaded one shared copy of 3000 rows');
my @growth;
for my $i (1 .. 4)
{
	my $out = $node->safe_psql('postgres', qq{
		SELECT pg_read_file('/proc/self/status');
		SELECT count(*) FROM (SELECT id FROM a ORDER BY v <=> $q_a LIMIT 10) s;
		SELECT pg_read_file('/proc/self/status');
	});
	my @parts = split /^10$/m, $out;
	push @growth, private_kb($parts[1]) - private_kb($parts[0]);
}
is(stat_of('a_cos', 'copy_loads'), '1', 'four more connections scanned the same copy, loading none');
my $max_growth = (sort { $b <=> $a } @growth)[0];
cmp_ok($max_growth, '<', 8 * 1024,
	"a new connection's scan grows its private memory by under 8 MB (largest: $max_growth kB; the copy is 10 MB)");

# --- writes while another session holds a pin --------------------------------
# A session holds a pin (and its snapshot) in the middle of a scan while the
# copy is extended; a second one holds a pin while VACUUM sets dead flags
# and new rows reuse the freed heap slots.
sub insert_a
{
	my ($from, $to) = @_;
	$node->safe_psql('postgres', qq{
		INSERT INTO a SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 768) WHERE i > 0)::vector
			FROM generate_series($from, $to) i;
	});
}
my $pinned = HybridSearchTest::Session->new($node);
my ($ok, $out, $err) = $pinned->run(qq{
	BEGIN ISOLATION LEVEL REPEATABLE READ;
	CREATE TEMP TABLE before AS SELECT id FROM a ORDER BY v <=> $q_a LIMIT 20;
	DECLARE c CURSOR FOR SELECT id FROM a ORDER BY v <=> $q_a;
	FETCH 5 FROM c;
});
ok($ok, 'a session holds a pin in the middle of a scan') || diag($err);
insert_a(3002, 3500);
exact('after INSERT (copy extended in place)',
	"SELECT knn_check('a', '<=>', $q_a, 10, 'true'), knn_check('a', '<=>', $q_a, 50, 'id % 3 = 0')");
is(stat_of('a_cos', 'copy_loads, cpu_cached_rows'), '1|3499',
	'the insert extended the shared copy without reloading it');
($ok, $out, $err) = $pinned->run(qq{
	FETCH 15 FROM c;
	CLOSE c;
	SELECT count(*) FROM (SELECT id FROM a ORDER BY v <=> $q_a LIMIT 20) s
		WHERE id NOT IN (SELECT id FROM before);
	COMMIT;
});
ok($ok && $out =~ /\n0$/, 'the pinned scan finished on its own snapshot, exactly') || diag("$out\n$err");
$node->safe_psql('postgres', 'DELETE FROM a WHERE id % 4 = 0');
($ok, $out, $err) = $pinned->run(qq{
	BEGIN;
	DECLARE c CURSOR FOR SELECT id FROM a ORDER BY v <=> $q_a;
	FETCH 5 FROM c;
});
ok($ok, 'another scan holds a pin') || diag($err);
$node->safe_psql('postgres', 'VACUUM a');
insert_a(4000, 4300);
exact('after DELETE, VACUUM and inserts reusing heap slots',
	"SELECT knn_check('a', '<=>', $q_a, 10, 'true'), knn_check('a', '<=>', $q_a, 100, 'true')");
is(stat_of('a_cos', 'copy_loads, dead_rows > 800'), '1|t',
	'VACUUM marked rows dead and the shared copy took its flags without reloading');
($ok, $out, $err) = $pinned->run(qq{
	FETCH ALL FROM c;
	COMMIT;
});
ok($ok, 'the pinned scan ran to its end') || diag($err);
$node->safe_psql('postgres', 'REINDEX INDEX a_cos');
exact('after REINDEX', "SELECT knn_check('a', '<=>', $q_a, 10, 'true')");
is(stat_of('a_cos', 'copy_loads, copy_state'), '2|ready', 'REINDEX gave the index a new copy');

# --- eviction and streaming ----------------------------------------------------
exact('scans of b', "SELECT knn_check('b', '<->', $q_b, 10, 'true'), knn_check('b', '<->', $q_b, 10, 'id < 100')");
is(stat_of('a_cos', 'copy_state, copy_evictions'), 'none|1',
	"b's copy evicted a's: both do not fit 32 MB");
exact('a again', "SELECT knn_check('a', '<=>', $q_a, 10, 'true')");
is(stat_of('b_l2', 'copy_state, copy_evictions'), 'none|1', "and a's evicted b's");
exact('an index larger than the shared cache',
	"SELECT knn_check('big', '<#>', (SELECT v FROM big WHERE id = 3), 10, 'true')");
is(stat_of('big_ip', 'copy_state, streamed_scans > 0'), 'none|t',
	'an index larger than hybridsearch.shared_cache_size streams its pages');
$node->safe_psql('postgres', 'TRUNCATE b');
$node->safe_psql('postgres', qq{
	INSERT INTO b SELECT i, (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 768) WHERE i > 0)::vector
		FROM generate_series(1, 3000) i;
});
exact('after TRUNCATE', "SELECT knn_check('b', '<->', $q_b, 10, 'true')");
$node->safe_psql('postgres', 'DROP INDEX b_l2');
is($node->safe_psql('postgres', q{SELECT count(*) FROM hybridsearch_stats WHERE index::text = 'b_l2'}),
	'0', 'DROP INDEX');

# --- kill -9 of a backend holding a pin ----------------------------------------
$pinned = HybridSearchTest::Session->new($node);
($ok, $out, $err) = $pinned->run(qq{
	BEGIN;
	DECLARE c CURSOR FOR SELECT id FROM a ORDER BY v <=> $q_a;
	FETCH 1 FROM c;
	SELECT pg_backend_pid();
});
my ($pid) = $out =~ /(\d+)$/;
ok($ok && $pid, 'a backend pins the copy');
kill 'KILL', $pid;
ok(wait_for_restart($node), 'the server restarts after a backend holding a pin is killed');
exact('after the restart', "SELECT knn_check('a', '<=>', $q_a, 10, 'true')");
is(stat_of('a_cos', 'copy_state, copy_loads'), 'ready|1', 'the copy was loaded anew after the restart');

# --- prewarm -------------------------------------------------------------------
$node->append_conf('postgresql.conf',
	"hybridsearch.prewarm = 'postgres:a_pkey, postgres:no_such_idx, postgres:public.a_cos'");
$node->restart;
my $loaded = 0;
for (1 .. 100)
{
	$loaded = 1, last if stat_of('a_cos', 'copy_state') eq 'ready';
	select(undef, undef, undef, 0.1);
}
ok($loaded, 'hybridsearch.prewarm loaded the copy at start-up, before any query');
is(stat_of('a_cos', 'copy_loads, cpu_scans'), '1|0', 'by a load, not a scan');
# the line comes once the worker is done, after the GPU's copy where scans use the GPU
my $logged = 0;
for (1 .. 100)
{
	$logged = 1, last
	  if $node->log_contains(qr/hybridsearch prewarm: index "public.a_cos": \d+ rows in \d+ ms/);
	select(undef, undef, undef, 0.1);
}
ok($logged, 'the prewarm worker logged the load');
ok($node->log_contains(qr/hybridsearch prewarm: index "no_such_idx" does not exist/),
	'and a name that does not resolve');
ok($node->log_contains(qr/ERROR:  "a_pkey" is not a hybrid index/),
	'and an index of another kind, going on with the next');
is($node->safe_psql('postgres', "SELECT hybridsearch_prewarm('big_ip') IS NULL"), 't',
	'hybridsearch_prewarm of an index too large returns NULL');
is($node->safe_psql('postgres', "SELECT hybridsearch_prewarm('a_cos')"),
	$node->safe_psql('postgres', 'SELECT count(*) FROM a WHERE v IS NOT NULL'),
	"hybridsearch_prewarm returns the copy's rows");
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT hybridsearch_prewarm('a')");
like($stderr, qr/"a" is not an index/, 'hybridsearch_prewarm of a table is refused');

# --- without the preload -----------------------------------------------------------
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->adjust_conf('postgresql.conf', 'hybridsearch.prewarm', undef);
$node->adjust_conf('postgresql.conf', 'hybridsearch.shared_cache_size', undef);
$node->restart;
exact('without the preload', "SELECT knn_check('a', '<=>', $q_a, 10, 'true'), knn_check('big', '<#>', (SELECT v FROM big WHERE id = 3), 5, 'true')");
is(stat_of('a_cos', 'copy_scope'), 'backend', 'without the preload the copies are private to each backend');

$node->stop;
done_testing();
