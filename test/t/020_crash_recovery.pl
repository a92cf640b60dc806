# Crash recovery of the hybrid index.
#  1. A backend appending to two hybrid indexes (16 dims, entries within a
#     page; 3000 dims, entries spanning pages) in a loop of committed
#     transactions, while another session holds an uncommitted transaction
#     with inserts, is killed with SIGKILL: the postmaster restarts every
#     backend and replays WAL.  Afterwards committed rows seen before the
#     kill are there, the uncommitted ones are not, every index scan answers
#     exactly like a sequential scan, and inserting more works (also after
#     a second crash).
#     An unlogged table comes back empty with a working index.
#  2. A committed bulk insert, DELETE and VACUUM, then an immediate
#     shutdown ($node->stop('immediate')) and restart: same checks.
# Data checksums are on, so a torn or badly replayed page fails to read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $t_start = time;

# ---------------------------------------------------------------------------

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init(extra => ['--data-checksums']);
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
max_parallel_workers_per_gather = 0
jit = off
shared_buffers = 32MB
});
$node->start;
my $run = node_runner($node);

my $vec16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE n > 0)::float8[]::vector';
my $vec3000 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 3000) WHERE n > 0)::float8[]::vector';

$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE small (id bigint PRIMARY KEY, f int, v vector(16));
	CREATE TABLE big (id bigint PRIMARY KEY, f int, v vector(3000));
	CREATE SEQUENCE ids;
	SELECT setseed(0.2);
	INSERT INTO small SELECT n, n % 100, $vec16 FROM generate_series(1, 3000) n;
	INSERT INTO small SELECT n, n % 100, NULL FROM generate_series(3001, 3010) n;
	INSERT INTO big SELECT n, n % 100, $vec3000 FROM generate_series(1, 200) n;
	SELECT setval('ids', 10000);
	CREATE INDEX small_l2 ON small USING hybrid (v vector_l2_ops);
	CREATE INDEX small_cos ON small USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	CREATE INDEX big_l2 ON big USING hybrid (v vector_l2_ops) WITH (precision = 'half');
	CREATE INDEX big_ip ON big USING hybrid (v vector_ip_ops);
	CREATE UNLOGGED TABLE scratch (id bigint, f int, v vector(16));
	CREATE INDEX scratch_l2 ON scratch USING hybrid (v vector_l2_ops);
	CREATE INDEX scratch_cos ON scratch USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	INSERT INTO scratch SELECT n, n % 100, $vec16 FROM generate_series(1, 1000) n;
	INSERT INTO qvec SELECT 'scratch', 'r1', v FROM qvec WHERE tab = 'small' AND name = 'r1';
	INSERT INTO qvec SELECT 'small', 'r1', $vec16 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'small', 'row', v FROM small WHERE id = 7;
	INSERT INTO qvec SELECT 'big', 'r1', $vec3000 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'big', 'row', v FROM big WHERE id = 7;
	CHECKPOINT;
});

my @small_checks = knn_checks(
	table => 'small',
	ops => [ '<->', '<=>' ],
	queries => [ 'r1', 'row' ],
	wheres => [ '', 'f < 10', 'f = 0' ],
	limits => [ 10, 100, undef ]);
my @big_checks = knn_checks(
	table => 'big',
	ops => [ '<->', '<#>' ],
	queries => [ 'r1', 'row' ],
	wheres => [ '', 'f < 10' ],
	limits => [ 10, undef ]);

sub check_all
{
	my ($what) = @_;
	compare_plans($run, "$what: small (16 dims)", '', @small_checks);
	compare_plans($run, "$what: big (3000 dims, entries span pages)", '', @big_checks);
	# a whole index scan returns every row once
	my $counts = $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		SELECT (SELECT count(*) FROM (SELECT id FROM small ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'small' AND name = 'r1')) s)
			|| ' ' || (SELECT count(*) FROM (SELECT id FROM big ORDER BY v <#> (SELECT v FROM qvec WHERE tab = 'big' AND name = 'r1')) s);
		RESET enable_seqscan;
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT (SELECT count(*) FROM small) || ' ' || (SELECT count(*) FROM big);});
	my ($via_index, $via_seq) = split /\n/, $counts;
	is($via_index, $via_seq, "$what: full index scans return every row once");
	verify_indexes($node, $what, qw(small_l2 small_cos big_l2 big_ip));
}

# Start the insert loop in a session of its own; returns (session, backend pid).
sub start_inserter
{
	my $s = HybridSearchTest::Session->new($node);
	my ($ok, $pid, $err) = $s->run('SELECT pg_backend_pid()');
	die "no backend pid: $err" unless $ok && $pid =~ /^\d+$/;
	# committed transactions of one small row (and every fourth a big one),
	# forever; do
	# not wait for the result
	$s->send(qq{
		DO \$\$
		BEGIN
			FOR k IN 1 .. 1000000 LOOP
				INSERT INTO small SELECT nextval('ids'), n % 100, CASE WHEN n % 50 = 0 THEN NULL ELSE $vec16 END
					FROM generate_series(k, k) n;
				IF k % 4 = 0 THEN
					INSERT INTO big SELECT nextval('ids'), n % 100, $vec3000 FROM generate_series(k, k) n;
				END IF;
				COMMIT;
			END LOOP;
		END
		\$\$;
	});
	return ($s, $pid);
}

my $t = time;
check_all('before any crash');

# ---------------------------------------------------------------------------
# 1. SIGKILL of a backend in the middle of inserts.
# ---------------------------------------------------------------------------
for my $round (1, 2)
{
	# an uncommitted transaction with inserts of its own, at crash time
	my $open = HybridSearchTest::Session->new($node);
	my ($ok, $out, $err) = $open->run(qq{
		BEGIN;
		INSERT INTO small SELECT 900000 + n, 0, $vec16 FROM generate_series(1, 200) n;
		INSERT INTO big SELECT 900000 + n, 0, $vec3000 FROM generate_series(1, 20) n;});
	ok($ok, "round $round: uncommitted inserts in an open transaction") or diag($err);

	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM small');
	my ($inserter, $pid) = start_inserter();
	my $target = $before + 400;
	ok($node->poll_query_until('postgres', "SELECT count(*) >= $target FROM small"),
		"round $round: the insert loop commits rows");
	my $seen = $node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM small) || \' \' || (SELECT count(*) FROM big) || \' \' || (SELECT max(id) FROM small)');
	my ($seen_small, $seen_big, $seen_max) = split / /, $seen;

	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "round $round: SIGKILL to the inserting backend");
	ok(wait_for_restart($node), "round $round: the server is back after crash recovery");
	ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/, $log_offset)
		  && $node->log_contains(qr/database system was not properly shut down; automatic recovery in progress/, $log_offset),
		"round $round: the server log shows the crash and the recovery");
	eval { $inserter->{h}->kill_kill; };
	eval { $open->{h}->kill_kill; };

	my ($small_after, $big_after, $committed_present, $uncommitted) = split /\|/,
	  $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM small), (SELECT count(*) FROM big),
			(SELECT count(*) FROM small WHERE id <= $seen_max),
			(SELECT count(*) FROM small WHERE id > 900000) + (SELECT count(*) FROM big WHERE id > 900000)});
	cmp_ok($small_after, '>=', $seen_small, "round $round: committed rows survive (small)");
	cmp_ok($big_after, '>=', $seen_big, "round $round: committed rows survive (big)");
	is($uncommitted, 0, "round $round: the uncommitted transaction's rows are gone");

	check_all("round $round: after crash recovery");
	if ($round == 1)
	{
		# an unlogged table comes back empty, its index from the init fork
		my @scratch_checks = knn_checks(
			table => 'scratch',
			ops => [ '<->', '<=>' ],
			queries => [ 'r1' ],
			wheres => [ '', 'f < 10' ],
			limits => [ 10, undef ]);
		is($node->safe_psql('postgres', q{SET enable_seqscan = off;
				SELECT count(*) FROM (SELECT id FROM scratch ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'scratch')) s}),
			'0', 'unlogged table: empty after crash recovery, and so is its index');
		compare_plans($run, 'unlogged table: empty after crash recovery', '', @scratch_checks);
		$node->safe_psql('postgres', qq{
			SELECT setseed(0.35);
			INSERT INTO scratch SELECT n, n % 100, CASE WHEN n % 40 = 0 THEN NULL ELSE $vec16 END
				FROM generate_series(1, 2000) n;});
		compare_plans($run, 'unlogged table: inserts after crash recovery', '', @scratch_checks);
	}

	$node->safe_psql('postgres', qq{
		SELECT setseed(0.3);
		INSERT INTO small SELECT nextval('ids'), n % 100, $vec16 FROM generate_series(1, 500) n;
		INSERT INTO big SELECT nextval('ids'), n % 100, $vec3000 FROM generate_series(1, 30) n;});
	check_all("round $round: after inserting more");
	$t = lap("crash round $round", $t);
}

# ---------------------------------------------------------------------------
# 2. Committed bulk insert, DELETE and VACUUM, then an immediate shutdown.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	SELECT setseed(0.4);
	INSERT INTO small SELECT nextval('ids'), n % 100, $vec16 FROM generate_series(1, 5000) n;
	INSERT INTO big SELECT nextval('ids'), n % 100, $vec3000 FROM generate_series(1, 100) n;
	DELETE FROM small WHERE id % 3 = 0;
	DELETE FROM big WHERE id % 4 = 1;
	VACUUM small;
	VACUUM big;
	INSERT INTO small SELECT nextval('ids'), n % 100, $vec16 FROM generate_series(1, 1000) n;
});
check_all('before immediate shutdown');
my $expect = $node->safe_psql('postgres',
	q{SELECT (SELECT count(*) FROM small) || ' ' || (SELECT count(*) FROM big)});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM small) || ' ' || (SELECT count(*) FROM big)}),
	$expect, 'after immediate shutdown: the committed rows are all there');
check_all('after immediate shutdown and restart');
$node->safe_psql('postgres', qq{
	SELECT setseed(0.5);
	INSERT INTO small SELECT nextval('ids'), n % 100, $vec16 FROM generate_series(1, 300) n;
	INSERT INTO big SELECT nextval('ids'), n % 100, $vec3000 FROM generate_series(1, 10) n;
	VACUUM small;});
check_all('after immediate shutdown, more inserts and VACUUM');
$t = lap('immediate shutdown', $t);

note(sprintf("020_crash_recovery total: %.1f s", time - $t_start));
$node->stop;
done_testing();
