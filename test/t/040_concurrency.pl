# Concurrency: pgbench clients insert, update, delete, vacuum and query at
# once, and every query compares, inside one REPEATABLE READ snapshot, the
# index scan with a sequential scan (knn_check() raises an error on any
# difference, so pgbench must finish without errors).  A separate session
# runs REINDEX CONCURRENTLY and VACUUM during the load.  Afterwards every
# index answers exactly like a sequential scan, whole index scans return
# every row once, and the row counts match the inserts and deletes logged
# by the clients.  Every client reads the same shared copy of each index.
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



my $node = preloaded_node('concurrency', q{
hybridsearch.shared_cache_size = 256MB
autovacuum_naptime = 1s
autovacuum_vacuum_threshold = 50
autovacuum_vacuum_scale_factor = 0.05
deadlock_timeout = 100ms});
my $run = node_runner($node);

my $v16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE n > 0)::float8[]::vector';
my $v256 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256) WHERE n > 0)::float8[]::vector';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE items (id bigint, f int, v vector(16));
	CREATE SEQUENCE ids;
	CREATE TABLE audit (kind text, n bigint);
	SELECT setseed(0.6);
	INSERT INTO items SELECT nextval('ids'), n % 1000, $v16 FROM generate_series(1, 6000) n;
	UPDATE items SET v = NULL WHERE id % 211 = 0;
	UPDATE items SET v = (SELECT v FROM items WHERE id = 1) WHERE id % 223 = 0;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops) WITH (precision = 'half');
	CREATE INDEX items_l1 ON items USING hybrid (v vector_l1_ops);
	INSERT INTO qvec SELECT 'items', 'r1', $v16 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 1;
	-- an untyped column, 256 dimensions
	CREATE TABLE docs (id bigint, f int, v vector);
	INSERT INTO docs SELECT nextval('ids'), n % 1000, $v256 FROM generate_series(1, 1500) n;
	CREATE INDEX docs_cos ON docs USING hybrid (v vector_cosine_ops) WITH (precision = 'half');
	CREATE INDEX docs_l2 ON docs USING hybrid (v vector_l2_ops);
	INSERT INTO qvec SELECT 'docs', 'r1', $v256 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'docs', 'row', v FROM docs WHERE id = 6001;
});
$node->safe_psql('postgres', knn_check_sql());

my $t = time;
compare_plans($run, 'before the load', '',
	knn_checks(table => 'items', queries => [ 'r1', 'row' ], wheres => [ '', 'f < 100' ], limits => [ 10, 300 ]),
	knn_checks(table => 'docs', ops => [ '<->', '<=>' ], queries => [ 'r1', 'row' ], wheres => [ '' ], limits => [ 10, 300 ]));

# knn_check itself notices a wrong answer: a filter that keeps other rows
# on each run makes the two plans disagree
{
	my ($ret, $out, $err) = $node->psql('postgres', q{
		SELECT knn_check('items', '<->', (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1'), 10, 'true');
		SELECT knn_check('docs', '<=>', (SELECT v FROM qvec WHERE tab = 'docs' AND name = 'r1'), 10, 'f < 0 OR id <> 1');});
	is($ret, 0, 'knn_check passes on a quiet table') or diag($err);
	($ret, $out, $err) = $node->psql('postgres', q{
		SELECT knn_check('items', '<->', (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1'), 10, 'random() < 0.5');});
	like($err, qr/knn_check: (distances|ids) differ/, 'knn_check raises an error when the two plans disagree');
}

my $q16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16))::float8[]::vector';
my $q256 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256))::float8[]::vector';
my %scripts = (
	'insert@6' => qq{
\\set f random(0, 999)
WITH ins AS (INSERT INTO items SELECT nextval('ids'), :f, CASE WHEN :f < 10 THEN NULL ELSE $q16 END RETURNING 1)
INSERT INTO audit SELECT 'insert', count(*) FROM ins;
},
	'insertdocs@2' => qq{
\\set f random(0, 999)
WITH ins AS (INSERT INTO docs SELECT nextval('ids'), :f, CASE WHEN :f < 10 THEN NULL ELSE $q256 END RETURNING 1)
INSERT INTO audit SELECT 'docs insert', count(*) FROM ins;
},
	'update@2' => qq{
\\set id random(1, 6000)
UPDATE items SET v = $q16 WHERE id = :id;
},
	'delete@1' => qq{
\\set id random(1, 9000)
WITH del AS (DELETE FROM items WHERE id = :id RETURNING 1)
INSERT INTO audit SELECT 'delete', count(*) FROM del;
},
	'query@6' => items_check_script(q => $q16, lim => 80, ids => 6000, cos_where => 'f < 100',
		extra => qq{SELECT knn_check('docs', '<=>', $q256, :lim, 'true');
SELECT knn_check('docs', '<->', coalesce((SELECT v FROM docs WHERE id = :id + 6000), $q256), :lim, 'f < 100');
}),
	'vacuum@1' => q{
VACUUM items;
},
);

# maintenance alongside the clients
my $maint = HybridSearchTest::Session->new($node);
$maint->send(join('', map { "REINDEX INDEX CONCURRENTLY items_l2; SELECT pg_sleep(0.2); VACUUM items;\n"
		  . "REINDEX INDEX CONCURRENTLY items_cos; SELECT pg_sleep(0.2);\n" } 1 .. 3));

my $clients = 4;
my $per_client = 400;
my $total = $clients * $per_client;
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$per_client",
	0,
	[ qr{processed: $total/$total} ],
	[ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench: inserts, updates, deletes, vacuums and checked queries from 4 clients',
	{ map { ("040_$_" => $scripts{$_}) } keys %scripts });
my ($ok, $out, $err) = $maint->run('SELECT 1');
ok($ok, 'REINDEX CONCURRENTLY and VACUUM alongside the clients succeeded') or diag($err);
$t = lap('first pgbench run', $t);

# the extended query protocol, plans prepared once per connection
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$per_client --protocol=prepared",
	0,
	[ qr{processed: $total/$total} ],
	[ qr{\A(?!.*(?:ERROR|error:|aborted))}s ],
	'pgbench --protocol=prepared: same mix',
	{ map { ("040_prepared_$_" => $scripts{$_}) } grep { !/vacuum/ } keys %scripts });
$t = lap('second pgbench run', $t);
$maint->close;

# afterwards
my @checks = (
	knn_checks(
		table => 'items',
		queries => [ 'r1', 'row' ],
		wheres => [ '', 'f < 100', 'f = 0' ],
		limits => [ 10, 100, undef ]),
	knn_checks(
		table => 'docs',
		ops => [ '<->', '<=>' ],
		queries => [ 'r1', 'row' ],
		wheres => [ '', 'f < 100' ],
		limits => [ 10, 100, undef ]));
compare_plans($run, 'after the load', '', @checks);
compare_plans($run, 'after the load, cpu_cache off', 'SET hybridsearch.cpu_cache = off;', @checks);
$node->safe_psql('postgres', 'VACUUM items');
compare_plans($run, 'after the load and VACUUM', '', @checks);

my ($count, $inserted, $deleted, $via_index) = split /\|/, $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT (SELECT count(*) FROM items),
		(SELECT coalesce(sum(n), 0) FROM audit WHERE kind = 'insert'),
		(SELECT coalesce(sum(n), 0) FROM audit WHERE kind = 'delete'),
		(SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1')) s);});
cmp_ok($inserted, '>', 0, 'the clients inserted rows');
cmp_ok($deleted, '>', 0, 'the clients deleted rows');
is($count, 6000 + $inserted - $deleted, 'row count = initial rows + inserts - deletes');
is($via_index, $count, 'a whole index scan returns every row');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT DISTINCT id FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM qvec WHERE tab = 'items' AND name = 'r1')) s) d;}),
	$count, '... each once (cosine, half precision)');
my ($docs, $docs_inserted, $docs_via_index) = split /\|/, $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT (SELECT count(*) FROM docs),
		(SELECT coalesce(sum(n), 0) FROM audit WHERE kind = 'docs insert'),
		(SELECT count(DISTINCT id) FROM (SELECT id FROM docs ORDER BY v <=> (SELECT v FROM qvec WHERE tab = 'docs' AND name = 'r1')) s);});
is($docs, 1500 + $docs_inserted, 'docs: row count = initial rows + inserts');
is($docs_via_index, $docs, 'docs: a whole index scan returns every row once');

note(sprintf("040_concurrency total: %.1f s", time - $t_start));
$node->stop;
done_testing();
