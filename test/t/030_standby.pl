# Streaming replication of the hybrid index: a primary and a hot standby
# made from a base backup.  Indexes built before the backup and after it
# (their pages come through WAL), both precisions and all four operator
# classes, then INSERT, UPDATE, DELETE, VACUUM, REINDEX and heap slots
# reused after VACUUM on the primary.  After each step, once the standby has
# replayed everything: on the standby every index scan answers exactly like
# the standby's sequential scan, and the standby's index scans answer like
# the primary's.  The standby keeps shared copies (the preload), the
# primary private ones; one standby session keeps scanning across all steps
# and must see each replayed change.
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

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
max_parallel_workers_per_gather = 0
jit = off
});
$primary->start;

my $vec = sub {
	my ($dim) = @_;
	return "ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dim) WHERE n > 0)::float8[]::vector";
};
my $v32 = $vec->(32);

# before the backup: a table with two indexes
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE items (id int, f int, v vector(32));
	SELECT setseed(0.25);
	INSERT INTO items SELECT n, (n * 7919) % 1000, $v32 FROM generate_series(1, 3000) n;
	UPDATE items SET v = NULL WHERE id % 101 = 0;
	UPDATE items SET v = array_fill(0, ARRAY[32])::vector WHERE id % 103 = 0;
	UPDATE items SET v = (SELECT v FROM items WHERE id = 1) WHERE id % 107 = 0;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	INSERT INTO qvec SELECT 'items', 'r1', $v32 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 1;
	INSERT INTO qvec SELECT 'items', 'zero', array_fill(0, ARRAY[32])::vector;
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# the standby keeps shared copies (the primary private ones): replay must
# reach copies every backend shares
$standby->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 256MB
max_parallel_workers_per_gather = 0
jit = off
});
$standby->start;

# after the backup: two more indexes, and an untyped table with a half one
my $v5 = $vec->(5);
$primary->safe_psql('postgres', qq{
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops) WITH (precision = 'half');
	CREATE INDEX items_l1 ON items USING hybrid (v vector_l1_ops);
	CREATE TABLE loose (id int, f int, v vector);
	CREATE INDEX loose_l2 ON loose USING hybrid (v) WITH (precision = 'half');
	CREATE INDEX loose_cos ON loose USING hybrid (v vector_cosine_ops);
	SELECT setseed(0.26);
	INSERT INTO loose SELECT n, (n * 7919) % 1000, $v5 FROM generate_series(1, 8000) n;
	INSERT INTO loose SELECT n, (n * 7919) % 1000, NULL FROM generate_series(8001, 8020) n;
	INSERT INTO qvec SELECT 'loose', 'r1', $v5 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'loose', 'row', v FROM loose WHERE id = 1;
	INSERT INTO qvec SELECT 'loose', 'zero', array_fill(0, ARRAY[5])::vector;
});

my @checks = (
	knn_checks(
		table => 'items',
		queries => [ 'r1', 'row', 'zero' ],
		wheres => [ '', 'f < 100', 'f = 0' ],
		limits => [ 10, 200 ]),
	knn_checks(
		table => 'loose',
		ops => [ '<->', '<=>' ],
		queries => [ 'r1', 'row' ],
		wheres => [ '', 'f < 100', 'f = 0' ],
		limits => [ 10, 500 ]));

# The index-scan answers of every check on a node, by check number.
sub index_answers
{
	my ($runner) = @_;
	my $s = "SET client_min_messages = warning;\nSET extra_float_digits = 3;\n"
	  . "SET enable_seqscan = off; SET enable_bitmapscan = off;\n";
	$s .= "\\echo '\@\@I $_'\n$checks[$_]{sql};\n" for 0 .. $#checks;
	$s .= "RESET enable_seqscan; RESET enable_bitmapscan;\n";
	my ($ok, $out, $err) = $runner->($s);
	die "index answers failed: $err" unless $ok;
	return parse_sections($out);
}

my $standby_warm = HybridSearchTest::Session->new($standby);
my $t = time;

sub check_standby
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	compare_plans(node_runner($standby), "$what: standby, index scan vs seqscan", '', @checks);
	compare_plans(session_runner($standby_warm),
		"$what: standby, warm cache session, index scan vs seqscan", '', @checks);
	my $on_primary = index_answers(node_runner($primary));
	my $on_standby = index_answers(session_runner($standby_warm));
	my @failures;
	for my $i (0 .. $#checks)
	{
		my @p = compare_rows(
			parse_rows($on_standby->{"I $i"} // []),
			parse_rows($on_primary->{"I $i"} // []),
			$checks[$i]{limit}, [ 'standby', 'primary' ]);
		push @failures, "$checks[$i]{name}:\n  " . join("\n  ", @p) if @p;
	}
	ok(!@failures, "$what: standby's index scans answer like the primary's ("
		  . scalar(@checks) . " queries)")
	  or diag(join("\n", @failures[ 0 .. ($#failures < 7 ? $#failures : 7) ]));
	$t = lap($what, $t);
}

compare_plans(node_runner($primary), 'primary after build', '', @checks);
check_standby('after build (before and after the backup)');

$primary->safe_psql('postgres', qq{
	SELECT setseed(0.27);
	INSERT INTO items SELECT n, (n * 7919) % 1000, $v32 FROM generate_series(3001, 4000) n;
	INSERT INTO items SELECT n, (n * 7919) % 1000, NULL FROM generate_series(4001, 4010) n;
	INSERT INTO items SELECT id + 4010, f, v FROM items WHERE id <= 40;
	INSERT INTO loose SELECT n, (n * 7919) % 1000, $v5 FROM generate_series(8021, 9000) n;
});
check_standby('after INSERT');

$primary->safe_psql('postgres', qq{
	SELECT setseed(0.28);
	UPDATE items SET v = ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 32) WHERE id > 0)::float8[]::vector
		WHERE id % 9 = 0;
	UPDATE items SET f = f + 1 WHERE id % 4 = 0;
	UPDATE loose SET v = NULL WHERE id % 30 = 0;
});
check_standby('after UPDATE');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 6 = 1; DELETE FROM loose WHERE id % 3 = 0;');
check_standby('after DELETE');

$primary->safe_psql('postgres', 'VACUUM items; VACUUM loose;');
check_standby('after VACUUM');

$primary->safe_psql('postgres', qq{
	SELECT setseed(0.29);
	INSERT INTO items SELECT n, (n * 7919) % 1000, $v32 FROM generate_series(10001, 11000) n;
	INSERT INTO loose SELECT n, (n * 7919) % 1000, $v5 FROM generate_series(20001, 23000) n;
});
cmp_ok($primary->safe_psql('postgres', q{
		SELECT count(*) FROM loose WHERE id > 20000 AND ctid < (SELECT max(ctid) FROM loose WHERE id <= 20000)}),
	'>', 0, 'new rows reuse heap slots freed by VACUUM');
check_standby('after VACUUM and inserts into the freed slots');

$primary->safe_psql('postgres', 'REINDEX INDEX items_l2; REINDEX TABLE loose;');
$primary->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY items_cos');
check_standby('after REINDEX and REINDEX CONCURRENTLY');

$primary->safe_psql('postgres', qq{
	ALTER INDEX items_l2 SET (precision = 'half');
	ALTER INDEX items_ip SET (precision = 'full');
	TRUNCATE loose;
	SELECT setseed(0.3);
	INSERT INTO loose SELECT n, (n * 7919) % 1000, $v5 FROM generate_series(1, 2000) n;
});
check_standby('after ALTER INDEX SET (precision) and TRUNCATE');

# the standby refuses writes but answers; queries ordering by another dimension fail alike
my ($ret, $out, $err) = $standby->psql('postgres', q{
	SET enable_seqscan = off;
	SELECT id FROM items ORDER BY v <-> '[1,2,3]' LIMIT 3;});
like($err, qr/different vector dimensions/, 'standby: ORDER BY a vector of another dimension count fails');
($ret, $out, $err) = $standby->psql('postgres', q{INSERT INTO items VALUES (0, 0, NULL)});
like($err, qr/read-only transaction/, 'standby: writes are refused');

$standby_warm->close;
note(sprintf("030_standby total: %.1f s", time - $t_start));
$standby->stop;
$primary->stop;
done_testing();
