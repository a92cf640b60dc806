# Soak: pgbench clients over TCP on loopback for a bounded time, mixing k-NN
# queries through the hybrid indexes (some compared with a sequential scan in
# the same snapshot by knn_check, which raises an error on any difference),
# INSERT, UPDATE, DELETE, VACUUM and hybridsearch_verify, with autovacuum
# running too.  No
# transaction may fail; afterwards hybridsearch_verify passes on every index
# and index scans answer exactly like sequential scans.  Figures per script
# go to the test's notes.
#   HYBRIDSEARCH_SOAK_SECONDS  how long pgbench runs (default 120)
#   HYBRIDSEARCH_SOAK_CLIENTS  pgbench clients (default 4, over 2 threads)
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $seconds = $ENV{HYBRIDSEARCH_SOAK_SECONDS} // 120;
my $clients = $ENV{HYBRIDSEARCH_SOAK_CLIENTS} // 4;
my $t_start = time;

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
log_statement = none
max_parallel_workers_per_gather = 0
jit = off
autovacuum_naptime = 5s
autovacuum_vacuum_threshold = 500
autovacuum_vacuum_scale_factor = 0.05
});
$node->start;
my $run = node_runner($node);

my $v32 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 32) WHERE n > 0)::float8[]::vector';
my $q32 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 32))::float8[]::vector';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	CREATE TABLE items (id bigint, f int, v vector(32));
	CREATE SEQUENCE ids;
	SELECT setseed(0.9);
	INSERT INTO items SELECT nextval('ids'), n % 1000, CASE WHEN n % 101 = 0 THEN NULL ELSE $v32 END
		FROM generate_series(1, 20000) n;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = half);
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops);
	INSERT INTO qvec SELECT 'items', 'r1', $v32 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 7;
});
$node->safe_psql('postgres', knn_check_sql());

my %scripts = (
	query => [ 20, qq{
\\set lim random(1, 50)
SELECT id FROM items ORDER BY v <-> $q32 LIMIT :lim;
SELECT id FROM items ORDER BY v <=> $q32 LIMIT :lim;
SELECT id FROM items WHERE f < 100 ORDER BY v <#> $q32 LIMIT :lim;
} ],
	checked_query => [ 2, qq{
\\set lim random(1, 100)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT knn_check('items', '<->', $q32, :lim, 'true');
SELECT knn_check('items', '<=>', $q32, :lim, 'f < 300');
COMMIT;
} ],
	insert => [ 6, qq{
\\set f random(0, 999)
INSERT INTO items SELECT nextval('ids'), :f, CASE WHEN :f < 10 THEN NULL ELSE $q32 END;
} ],
	update => [ 4, qq{
\\set id random(1, 20000)
UPDATE items SET v = $q32 WHERE id = :id;
} ],
	delete => [ 3, q{
\set id random(1, 40000)
DELETE FROM items WHERE id = :id;
} ],
	vacuum => [ 1, q{
\sleep 2 s
VACUUM items;
} ],
	# under load: writers wait for its SHARE lock, readers with older
	# snapshots are still running
	verify => [ 1, q{
\sleep 1 s
SELECT entries FROM hybridsearch_verify('items_l2');
SELECT entries FROM hybridsearch_verify('items_cos');
} ],
);

my @files;
for my $name (sort keys %scripts)
{
	my $file = $node->basedir . "/soak_$name.sql";
	append_to_file($file, $scripts{$name}[1]);
	push @files, '-f', "$file\@$scripts{$name}[0]";
}

my ($out, $err) = ('', '');
my $t = time;
my $ok = IPC::Run::run(
	[
		'pgbench', '--no-vacuum', "--client=$clients", '--jobs=2', "--time=$seconds",
		'-h', '127.0.0.1', '-p', $node->port, @files, 'postgres'
	],
	'>', \$out, '2>', \$err);
$t = lap("pgbench for $seconds s", $t);
ok($ok, "pgbench ran $seconds s with $clients clients over TCP on 127.0.0.1") or diag($err);
unlike($err, qr/(?:ERROR|error|aborted)/, 'no client reported an error or was aborted')
  or diag($err);
like($out, qr/number of failed transactions: 0 \(0\.000%\)/, 'no transaction failed');
my ($total) = $out =~ /number of transactions actually processed: (\d+)/;
cmp_ok($total // 0, '>', 0, 'transactions were processed');
note("soak: $seconds s, $clients clients, 2 threads: " . ($total // 0) . ' transactions');
note($_) for grep { /^(?:tps|latency average|number of failed)/ } split /\n/, $out;
# per script: " - N transactions (P% of total, tps = T)"
while ($out =~ /SQL script \d+: \S+soak_(\w+)\.sql\n.*?\n - (\d+) transactions \([\d.]+% of total, tps = ([\d.]+)\)\n - number of failed transactions: (\d+)/gs)
{
	note(sprintf('soak: %-14s %8d transactions  %9.1f tps  %d failed', $1, $2, $3, $4));
	cmp_ok($2, '>', 0, "script $1 ran");
}

verify_indexes($node, 'after the soak', qw(items_l2 items_cos items_ip));
my @checks = knn_checks(
	table => 'items',
	ops => [ '<->', '<=>', '<#>' ],
	queries => [ 'r1', 'row' ],
	wheres => [ '', 'f < 100' ],
	limits => [ 10, 100, undef ]);
compare_plans($run, 'after the soak', '', @checks);
my ($count, $via_index) = split /\|/, $node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	SELECT (SELECT count(*) FROM items),
		(SELECT count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM qvec WHERE name = 'r1')) s);});
is($via_index, $count, "a whole index scan returns each of the $count rows once");
$node->safe_psql('postgres', 'VACUUM items');
verify_indexes($node, 'after the soak and VACUUM', qw(items_l2 items_cos items_ip));
note($node->safe_psql('postgres', q{
	SELECT 'soak: ' || index || ': ' || rows || ' rows, ' || null_rows || ' NULL, ' || dead_rows || ' dead entries'
	FROM hybridsearch_stats ORDER BY index::text}));

note(sprintf("070_soak total: %.1f s", time - $t_start));
$node->stop;
done_testing();
