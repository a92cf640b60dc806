# Batched search (src/search/batch_lane.c, batch_pass.c): concurrent CPU
# scans of one index share one sgemm pass, and hybridsearch_search_batch()
# answers many queries in one statement.  Checks, with the preload:
#   - eight clients scanning one index at once share passes
#     (hybridsearch_batch_stats), and a lone client never batches;
#   - under concurrent inserts, updates, deletes and VACUUM, every scan
#     equals a sequential scan in its snapshot (knn_check), and every
#     batch answer equals each query's own LATERAL index scan (batch_check),
#     for an fp32 and a half-precision copy, 300 queries (two groups);
#   - scans cancelled while they wait for or lead a pass leave no slot held,
#     and batching goes on afterwards;
#   - hybridsearch.cpu_batching = off runs every scan alone.
# The CPU path throughout (the GPU runner's hybridsearch.device = gpu is
# overridden): the GPU worker batches its own requests.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $node = preloaded_node('batched', 'hybridsearch.device = cpu');

my $v = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256) WHERE n > 0)::float8[]::vector';
my $q = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256))::float8[]::vector';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	SELECT setseed(0.3);
	CREATE SEQUENCE ids;
	CREATE TABLE items (id bigint PRIMARY KEY, f int, v vector(256));
	INSERT INTO items SELECT nextval('ids'), n % 1000, $v FROM generate_series(1, 40000) n;
	UPDATE items SET v = NULL WHERE id % 509 = 0;
	UPDATE items SET v = (SELECT v FROM items WHERE id = 1) WHERE id % 521 = 0;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops);
	SELECT hybridsearch_prewarm(i) FROM unnest(ARRAY['items_l2', 'items_cos', 'items_ip']::regclass[]) i;
} . knn_check_sql() . q{
-- hybridsearch_search_batch against each query's own LATERAL index scan in
-- the same snapshot: the same distances, and the same rows except in the
-- last group of ties the LIMIT cuts.
CREATE FUNCTION batch_check(idx text, op text, k int, nq int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	bad bigint;
BEGIN
	EXECUTE format($q$
		WITH qs AS MATERIALIZED (
			SELECT row_number() OVER ()::int AS n, v
			FROM (SELECT v FROM items WHERE v IS NOT NULL ORDER BY random() LIMIT %s) s),
		b AS (SELECT r.query AS n, i.id, r.distance
			FROM hybridsearch_search_batch(%L, (SELECT array_agg(v ORDER BY n) FROM qs), %s) r
			JOIN items i ON i.ctid = r.tid),
		l AS (SELECT qs.n, x.id, x.distance FROM qs,
			LATERAL (SELECT id, v %s qs.v AS distance FROM items ORDER BY v %s qs.v LIMIT %s) x),
		kth AS (SELECT n, max(distance) AS d FROM l GROUP BY n),
		bi AS (SELECT n, id FROM b JOIN kth USING (n) WHERE distance < d),
		li AS (SELECT n, id FROM l JOIN kth USING (n) WHERE distance < d)
		SELECT (SELECT count(*) FROM ((SELECT n, distance FROM b EXCEPT ALL SELECT n, distance FROM l)
				UNION ALL (SELECT n, distance FROM l EXCEPT ALL SELECT n, distance FROM b)) d)
			+ (SELECT count(*) FROM ((SELECT * FROM bi EXCEPT ALL SELECT * FROM li)
				UNION ALL (SELECT * FROM li EXCEPT ALL SELECT * FROM bi)) i)
			+ abs((SELECT count(*) FROM b) - (SELECT count(*) FROM l))$q$,
		nq, idx, k, op, op, k) INTO bad;
	IF bad > 0 THEN
		RAISE EXCEPTION 'batch_check: % rows differ for % % k = %', bad, idx, op, k;
	END IF;
	RETURN nq;
END
$$;
});

sub batch_stats
{
	my ($passes, $queries, $lone, $largest, $slots) = split /\|/,
	  $node->safe_psql('postgres', 'SELECT * FROM hybridsearch_batch_stats()');
	return { passes => $passes, queries => $queries, lone => $lone, largest => $largest, slots => $slots };
}

# batch_check notices a wrong answer: queries sorted differently on the two sides
{
	my ($ret, $out, $err) = $node->psql('postgres', q{SELECT batch_check('items_l2', '<->', 10, 300)});
	is($ret, 0, 'batch_check passes on a quiet table (300 queries, two groups)') or diag($err);
	($ret, $out, $err) = $node->psql('postgres', q{
		SELECT batch_check('items_l2', '<#>', 10, 20)});
	like($err, qr/batch_check: \d+ rows differ/, 'batch_check raises an error when the answers differ');
}

# a lone client: every pass runs alone
my $before = batch_stats();
$node->pgbench('--no-vacuum --client=1 --transactions=30', 0,
	[ qr{processed: 30/30} ], [ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: one client scanning',
	{ '120_lone' => "SELECT id FROM items ORDER BY v <-> $q LIMIT 10;\n" });
my $after = batch_stats();
is($after->{passes}, $before->{passes}, 'a lone client never joins a batched pass');
cmp_ok($after->{lone} - $before->{lone}, '>=', 30, 'its scans ran alone');

# eight clients scanning one index share passes
$before = $after;
$node->pgbench('--no-vacuum --client=8 --jobs=2 --transactions=60', 0,
	[ qr{processed: 480/480} ], [ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: eight clients scanning one index',
	{ '120_shared' => "SELECT id FROM items ORDER BY v <=> $q LIMIT 10;\n" });
$after = batch_stats();
cmp_ok($after->{passes}, '>', $before->{passes}, 'concurrent scans shared passes');
cmp_ok($after->{largest}, '>=', 2, 'a pass served several scans');
is($after->{slots}, 0, 'no batch slot is held afterwards');

# exactness under concurrent writers, batched scans and batch statements
my %scripts = (
	writer_scripts(q => $q, ids => 40000, delete_ids => 42000, inserts => 3, updates => 2, deletes => 1),
	'vacuum@1' => q{
VACUUM items;
},
	'query@8' => qq{
\\set lim random(1, 60)
\\set id random(1, 40000)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT knn_check('items', '<->', $q, :lim, 'true');
SELECT knn_check('items', '<=>', coalesce((SELECT v FROM items WHERE id = :id), $q), :lim, 'f < 100');
SELECT knn_check('items', '<#>', $q, :lim, 'f % 10 = 3');
COMMIT;
},
	'batch@2' => q{
\set k random(1, 40)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT batch_check('items_l2', '<->', :k, 24);
SELECT batch_check('items_cos', '<=>', :k, 24);
SELECT batch_check('items_ip', '<#>', :k, 24);
COMMIT;
},
	'scan@6' => qq{
SELECT id FROM items ORDER BY v <-> $q LIMIT 10;
SELECT id FROM items ORDER BY v <=> $q LIMIT 10;
},
);
$before = batch_stats();
$node->pgbench('--no-vacuum --client=8 --jobs=2 --transactions=120', 0,
	[ qr{processed: 960/960} ], [ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: writers, batched scans and batch statements, every answer checked',
	{ map { ("120_$_" => $scripts{$_}) } keys %scripts });
$after = batch_stats();
cmp_ok($after->{passes}, '>', $before->{passes}, 'scans shared passes under writes too');
verify_indexes($node, 'after the writers', qw(items_l2 items_cos items_ip));

# cancelled scans: each client's first statement that runs past 1 ms is
# cancelled (and pgbench stops that client); whatever it held is let go
for my $round (1 .. 5)
{
	$node->pgbench('--no-vacuum --client=8 --jobs=2 --transactions=20', 2,
		[ qr{} ], [ qr{canceling statement due to statement timeout} ],
		"pgbench round $round: scans cancelled by statement_timeout",
		{ "120_cancel_$round" => "SET statement_timeout = '1ms';\nSELECT id FROM items ORDER BY v <-> $q LIMIT 10;\n" });
}
is(batch_stats()->{slots}, 0, 'cancelled scans left no batch slot held');
$before = batch_stats();
$node->pgbench('--no-vacuum --client=8 --jobs=2 --transactions=40', 0,
	[ qr{processed: 320/320} ], [ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: scanning again after the cancellations',
	{ '120_again' => "SELECT knn_check('items', '<->', $q, 10, 'true');\nSELECT id FROM items ORDER BY v <-> $q LIMIT 10;\n" });
cmp_ok(batch_stats()->{passes}, '>', $before->{passes}, 'batching goes on after the cancellations');

# hybridsearch.cpu_batching = off: every scan alone
$node->append_conf('postgresql.conf', "hybridsearch.cpu_batching = off\n");
$node->reload;
$before = batch_stats();
$node->pgbench('--no-vacuum --client=8 --jobs=2 --transactions=30', 0,
	[ qr{processed: 240/240} ], [ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: eight clients with cpu_batching off',
	{ '120_off' => "SELECT id FROM items ORDER BY v <=> $q LIMIT 10;\n" });
$after = batch_stats();
is($after->{passes}, $before->{passes}, 'with cpu_batching off no pass is shared');
is($after->{lone}, $before->{lone}, 'and no scan goes through a lane');

$node->stop;
done_testing();
