# VACUUM gives space back: compaction of the entry stream and truncation of
# the pages it frees (src/index/hybrid_compact.c).
#  1. Churn: 50k rows, DELETE 80%, VACUUM, INSERT 40k: the index is at most
#     1.3x a fresh index over the same rows (it was 1.8x before compaction),
#     VACUUM reports moved entries and freed pages, pg_relation_size falls,
#     and index scans answer like sequential scans, in a session whose
#     shared copies were loaded before the compaction (they must reload:
#     row numbers changed) and in new ones.
#  2. A streaming standby (with shared copies loaded before) follows: its
#     index scans answer like its sequential scans, and its index is as
#     small as the primary's.
#  3. Repeated passes of DELETE, INSERT and VACUUM, hybridsearch_verify
#     after each, and the size stays within 1.3x of a fresh index.  Live
#     NULL entries at the end with only dead vector entries before them
#     move into those, so the index still shrinks.
#  4. kill -9 of the backend during compaction (hybridsearch.vacuum_fault):
#     after its first move, between the records of a long entry's move, and
#     after the new stream end is logged but before the pages are cut; after
#     crash recovery, verify passes and scans are exact, and the next VACUUM
#     finishes the work.
#  5. Scans (knn_check) and inserts from pgbench clients while VACUUM
#     compacts in a loop: no wrong answer, verify passes, and compaction did
#     move entries meanwhile.
# Data checksums are on, so a badly replayed or torn page fails to read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $t_start = time;

my $node = PostgreSQL::Test::Cluster->new('compaction');
$node->init(allows_streaming => 1, extra => ['--data-checksums']);
my $conf = qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 256MB
max_parallel_workers_per_gather = 0
jit = off
autovacuum = off
restart_after_crash = on
max_wal_size = 1GB
# the standby must find the WAL of the crashes it missed
wal_keep_size = 1GB
};
$node->append_conf('postgresql.conf', $conf);
$node->start;
my $run = node_runner($node);

my $vec = sub {
	my ($dim) = @_;
	return "ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dim) WHERE n > 0)::float8[]::vector";
};
my $v32 = $vec->(32);
# every 97th row NULL: NULL entries are holes and movers of their own size
my $row32 = "CASE WHEN n % 97 = 0 THEN NULL ELSE $v32 END";

$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE items (id int, f int, v vector(32));
	SELECT setseed(0.115);
	INSERT INTO items SELECT n, n % 100, $row32 FROM generate_series(1, 50000) n;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	INSERT INTO qvec SELECT 'items', 'r1', $v32 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 5;
});
$node->safe_psql('postgres', knn_check_sql());

$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('compaction_standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', $conf);
$standby->start;

my @checks = knn_checks(
	table => 'items',
	ops => [ '<->', '<=>' ],
	queries => [ 'r1', 'row' ],
	wheres => [ '', 'f < 10' ],
	limits => [ 10, 500 ]);

# VACUUM items in a session that shows compaction's DEBUG2 report; returns
# (entries moved, pages freed) summed over the indexes, and stderr.
sub vacuum_report
{
	my ($settings) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		($settings // '') . "SET client_min_messages = debug2; VACUUM items;");
	my ($moved, $freed) = (0, 0);
	while ($err =~ /compaction moved (\d+) entries and freed (\d+) pages/g)
	{
		$moved += $1;
		$freed += $2;
	}
	return ($moved, $freed, $ret, $err);
}

sub index_size
{
	my ($n, $index) = @_;
	return $n->safe_psql('postgres', "SELECT pg_relation_size('$index')");
}

# Both indexes against a fresh index over the same rows; returns the ratios.
sub size_ratios
{
	$node->safe_psql('postgres', 'CREATE INDEX items_fresh ON items USING hybrid (v vector_l2_ops)');
	my $fresh = index_size($node, 'items_fresh');
	my @ratios = map { index_size($node, $_) / $fresh } qw(items_l2 items_cos);
	$node->safe_psql('postgres', 'DROP INDEX items_fresh');
	return @ratios;
}

# Every index scan once, ordered by a query vector, returns each row once.
sub full_scans_count_every_row
{
	my ($label) = @_;
	my $counts = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SELECT (SELECT count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1')) s)
			|| ' ' || (SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1')) s)
			|| ' ' || (SELECT count(*) FROM items);});
	my ($l2, $cos, $rows) = split / /, $counts;
	is("$l2 $cos", "$rows $rows", "$label: full index scans return each of the $rows rows once");
}

sub check_all
{
	my ($label, @runs) = @_;
	compare_plans($_, $label, '', @checks) for ($run, @runs);
	full_scans_count_every_row($label);
	verify_indexes($node, $label, qw(items_l2 items_cos));
}

my $t = time;

# ---------------------------------------------------------------------------
# 1. The churn.
# ---------------------------------------------------------------------------
my $session = HybridSearchTest::Session->new($node);
my $standby_session = HybridSearchTest::Session->new($standby);
$node->wait_for_catchup($standby);
compare_plans(session_runner($session), 'before the churn: copies loaded', '', @checks);
compare_plans(session_runner($standby_session), 'standby before the churn: copies loaded', '', @checks);

my $size_before = index_size($node, 'items_l2');
$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 5 <> 0');
my ($moved, $freed, $ret, $err) = vacuum_report();
is($ret, 0, 'churn: VACUUM succeeds') or diag($err);
ok($moved > 0 && $freed > 0, "churn: VACUUM compacted ($moved entries moved, $freed pages freed)")
  or diag($err);
my $size_after = index_size($node, 'items_l2');
cmp_ok($size_after, '<', $size_before * 0.3,
	"churn: pg_relation_size fell from $size_before to $size_after bytes");
check_all('churn: after VACUUM', session_runner($session));

$node->safe_psql('postgres', qq{
	SELECT setseed(0.116);
	INSERT INTO items SELECT n, n % 100, $row32 FROM generate_series(50001, 90000) n;});
my ($ratio_l2, $ratio_cos) = size_ratios();
cmp_ok($ratio_l2, '<=', 1.3, sprintf('churn: items_l2 is %.3fx a fresh index', $ratio_l2));
cmp_ok($ratio_cos, '<=', 1.3, sprintf('churn: items_cos is %.3fx a fresh index', $ratio_cos));
check_all('churn: after the inserts', session_runner($session));
$t = lap('churn', $t);

# ---------------------------------------------------------------------------
# 2. The standby follows.
# ---------------------------------------------------------------------------
sub check_standby
{
	my ($label) = @_;
	$node->wait_for_catchup($standby);
	compare_plans(session_runner($standby_session), "standby, $label: the session's copies", '', @checks);
	compare_plans(node_runner($standby), "standby, $label: a new session", '', @checks);
	is(index_size($standby, 'items_l2') . ' ' . index_size($standby, 'items_cos'),
		index_size($node, 'items_l2') . ' ' . index_size($node, 'items_cos'),
		"standby, $label: its indexes are as large as the primary's");
}
check_standby('after the churn');
$t = lap('standby', $t);

# ---------------------------------------------------------------------------
# 3. Repeated passes.
# ---------------------------------------------------------------------------
for my $pass (1 .. 3)
{
	my $first = 90000 + ($pass - 1) * 5000 + 1;
	my $last = $first + 4999;
	$node->safe_psql('postgres', qq{
		DELETE FROM items WHERE (id * 31 + $pass) % 10 < 3;
		SELECT setseed(0.12 + $pass / 100.0);
		INSERT INTO items SELECT n, n % 100, $row32 FROM generate_series($first, $last) n;});
	($moved, $freed, $ret, $err) = vacuum_report();
	ok($ret == 0 && $moved > 0, "pass $pass: VACUUM compacted ($moved entries moved, $freed pages freed)")
	  or diag($err);
	check_all("pass $pass", session_runner($session));
}
($ratio_l2, $ratio_cos) = size_ratios();
cmp_ok($ratio_l2, '<=', 1.3, sprintf('after the passes: items_l2 is %.3fx a fresh index', $ratio_l2));
check_standby('after the passes');
$t = lap('repeated passes', $t);

# NULL entries at the end and no dead NULL entry before them: they move
# into dead vector entries (with a dead filler after each), so the stream
# still ends earlier
$node->safe_psql('postgres', qq{
	CREATE TABLE tailnull (id int, f int, v vector(32));
	SELECT setseed(0.119);
	INSERT INTO tailnull SELECT n, n % 10, $v32 FROM generate_series(1, 3000) n;
	INSERT INTO tailnull SELECT n, n % 10, NULL FROM generate_series(3001, 3100) n;
	CREATE INDEX tailnull_l2 ON tailnull USING hybrid (v vector_l2_ops);
	INSERT INTO qvec SELECT 'tailnull', 'r1', $v32 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'tailnull', 'row', v FROM tailnull WHERE id = 2999;
	DELETE FROM tailnull WHERE id <= 2400;});
my $tail_before = index_size($node, 'tailnull_l2');
$node->safe_psql('postgres', 'VACUUM tailnull');
cmp_ok(index_size($node, 'tailnull_l2'), '<', $tail_before * 0.4,
	"NULLs at the end: the index shrinks from $tail_before bytes");
compare_plans($run, 'NULLs at the end', '',
	knn_checks(table => 'tailnull', ops => [ '<->' ], queries => [ 'r1', 'row' ],
		wheres => [ '', 'f < 5' ], limits => [ 10, undef ]));
verify_indexes($node, 'NULLs at the end', 'tailnull_l2');
is($node->safe_psql('postgres', q{SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM tailnull ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'tailnull' AND name = 'r1')) s}),
	'700', 'NULLs at the end: a full index scan returns the 600 vectors and 100 NULLs');
$t = lap('NULLs at the end', $t);

# ---------------------------------------------------------------------------
# 4. kill -9 during compaction.
# ---------------------------------------------------------------------------
# VACUUM with hybridsearch.vacuum_fault = $fault: the backend dies, the
# server restarts.
sub vacuum_killed
{
	my ($fault) = @_;
	my $log_offset = -s $node->logfile;
	my ($ret, $out, $err) = $node->psql('postgres', "SET hybridsearch.vacuum_fault = $fault; VACUUM items;");
	isnt($ret, 0, "kill at $fault: the VACUUM's backend died");
	ok($node->wait_for_log(qr/was terminated by signal 9/, $log_offset),
		"kill at $fault: the server log shows the crash");
	ok(wait_for_restart($node), "kill at $fault: the server is back after crash recovery");
	$session->{h}->kill_kill;
	$session = HybridSearchTest::Session->new($node);
}

$node->safe_psql('postgres', 'DELETE FROM items WHERE id % 4 = 1');
vacuum_killed('after_move');
check_all('killed after the first move');

# no delete since: the interrupted compaction's holes are still there
$size_before = index_size($node, 'items_l2');
vacuum_killed('before_truncate');
compare_plans($run, 'killed before the truncation', '', @checks);
full_scans_count_every_row('killed before the truncation');
is(index_size($node, 'items_l2'), $size_before,
	'killed before the truncation: the pages are still there');
($ret, my $out, $err) = $node->psql('postgres', "SELECT entries > 0 FROM hybridsearch_verify('items_l2')");
is($ret . $out, '0t', 'killed before the truncation: verify passes') or diag($err);
like($err, qr/pages past its stream end/, 'killed before the truncation: verify notices the pages left');
($moved, $freed, $ret, $err) = vacuum_report();
ok($ret == 0 && $freed > 0, "killed before the truncation: the next VACUUM frees $freed pages")
  or diag($err);
cmp_ok(index_size($node, 'items_l2'), '<', $size_before,
	'killed before the truncation: the next VACUUM shrinks the index');
check_all('killed before the truncation, VACUUM again');

# entries of 6000 dimensions span four pages: a move takes two records
$node->safe_psql('postgres', qq{
	CREATE TABLE wide (id int, f int, v vector(6000));
	SELECT setseed(0.117);
	INSERT INTO wide SELECT n, n % 10, @{[ $vec->(6000) ]} FROM generate_series(1, 120) n;
	CREATE INDEX wide_l2 ON wide USING hybrid (v vector_l2_ops);
	INSERT INTO qvec SELECT 'wide', 'r1', @{[ $vec->(6000) ]} FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'wide', 'row', v FROM wide WHERE id = 2;
	DELETE FROM wide WHERE id % 2 = 1;});
my @wide_checks = knn_checks(
	table => 'wide', ops => [ '<->' ], queries => [ 'r1', 'row' ],
	wheres => [ '', 'f < 5' ], limits => [ 10, undef ]);
{
	my $log_offset = -s $node->logfile;
	($ret, $out, $err) = $node->psql('postgres', 'SET hybridsearch.vacuum_fault = mid_move; VACUUM wide;');
	isnt($ret, 0, 'kill between the records of a move: the backend died');
	ok(wait_for_restart($node), 'kill between the records of a move: the server is back');
	$session->{h}->kill_kill;
	$session = HybridSearchTest::Session->new($node);
}
compare_plans($run, 'killed between the records of a move', '', @wide_checks);
verify_indexes($node, 'killed between the records of a move', 'wide_l2');
($ret, $out, $err) = $node->psql('postgres', 'SET client_min_messages = debug2; VACUUM wide;');
like($err, qr/"wide_l2": compaction moved [1-9]\d* entries/,
	'killed between the records of a move: the next VACUUM moves the entries');
compare_plans($run, 'killed between the records of a move, VACUUM again', '', @wide_checks);
verify_indexes($node, 'killed between the records of a move, VACUUM again', 'wide_l2');
check_standby('after the kills');
$t = lap('kills', $t);

# ---------------------------------------------------------------------------
# 5. Scans and inserts while VACUUM compacts.
# ---------------------------------------------------------------------------
my $q32 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 32))::float8[]::vector';
$node->safe_psql('postgres', 'CREATE SEQUENCE ids START 200001');
my %scripts = (
	'query@4' => qq{
\\set lim random(1, 300)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT knn_check('items', '<->', $q32, :lim, 'true');
SELECT knn_check('items', '<=>', $q32, :lim, 'f < 30');
COMMIT;
\\sleep 20 ms
},
	'insert@2' => qq{
INSERT INTO items SELECT nextval('ids'), 7, $q32;
\\sleep 20 ms
},
);
# DELETE and VACUUM in a loop alongside, its DEBUG2 report in a file.  The
# clients pause between transactions: compaction only takes the index's
# lock when no transaction holds one (doc/hybrid-index.md); three clients
# that hardly pause left it none on the GPU runner, whose scans of this
# small index take longer.  Each VACUUM waits for the transactions older
# than its DELETE to end, so that it has dead rows to remove.
my $maint_log = $node->basedir . '/maint.log';
my $maint = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f',
		script_file($node, "SET client_min_messages = debug2; SELECT setseed(0.118);\n"
			  . join('', map { "DELETE FROM items WHERE random() < 0.25; SELECT pg_sleep(0.3); VACUUM items;\n" } 1 .. 4)) ],
	'>', '/dev/null', '2>', $maint_log);
my $clients = 3;
my $per_client = 300;
my $total = $clients * $per_client;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=1 --transactions=$per_client",
	0,
	[ qr{processed: $total/$total} ],
	[ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'concurrent: checked scans and inserts while VACUUM compacts',
	{ map { ("115_$_" => $scripts{$_}) } keys %scripts });
ok($maint->finish, 'concurrent: the DELETE and VACUUM loop succeeded');
$err = slurp_file($maint_log);
my $moved_concurrently = 0;
$moved_concurrently += $1 while $err =~ /compaction moved (\d+) entries/g;
ok($moved_concurrently > 0, "concurrent: compaction moved $moved_concurrently entries meanwhile")
  or diag($err);
check_all('concurrent: afterwards', session_runner($session));
check_standby('after the concurrent load');
$t = lap('concurrent', $t);

$session->close;
$standby_session->close;
note(sprintf('total %.1f s', time - $t_start));
done_testing();

