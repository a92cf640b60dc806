# Scale-out over postgres_fdw: a coordinator and three shard servers on
# loopback TCP.  The coordinator's table "items" is hash-partitioned into
# three foreign tables, one on each shard, where it has its own hybrid
# indexes; the coordinator also holds the same rows in one table, "flat".
# Every query, through hybridsearch_sharded_search() and as a plain
# ORDER BY ... LIMIT on the parent, must answer like flat's sequential scan:
# all four operators, with and without a filter, several limits.  The plans
# must be the documented ones (doc/scale-out.md): the function's shards run
# as Async Foreign Scans with ORDER BY and LIMIT in their remote SQL; the
# parent's are a Merge Append whose remote SQL has the ORDER BY alone; the
# shards answer through their hybrid indexes.  A shard that is down makes
# both forms fail with postgres_fdw's connection error (SQLSTATE 08001) and
# return nothing; once it is back, the same session answers correctly again.
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
my $dims = 32;
my $nshards = 3;

my @shards;
for my $i (1 .. $nshards)
{
	my $shard = PostgreSQL::Test::Cluster->new("shard$i");
	$shard->init;
	$shard->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
max_parallel_workers_per_gather = 0
jit = off
});
	$shard->start;
	$shard->safe_psql('postgres', qq{
		CREATE EXTENSION hybridsearch;
		CREATE TABLE items_$i (id int, f int, v vector($dims));
	});
	push @shards, $shard;
}

my $coord = PostgreSQL::Test::Cluster->new('coordinator');
$coord->init;
$coord->append_conf('postgresql.conf', qq{
max_parallel_workers_per_gather = 0
jit = off
});
$coord->start;

# The recipe of doc/scale-out.md: one server per shard, naming hybridsearch
# in "extensions" so that its operators are shipped, async_capable so that
# an Append runs the shards at once.
my $setup = "CREATE EXTENSION hybridsearch;\nCREATE EXTENSION postgres_fdw;\n"
  . "CREATE TABLE items (id int, f int, v vector($dims)) PARTITION BY HASH (id);\n";
for my $i (1 .. $nshards)
{
	my $port = $shards[ $i - 1 ]->port;
	$setup .= qq{
CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '$port', dbname 'postgres',
		extensions 'hybridsearch', async_capable 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i;
CREATE FOREIGN TABLE items_$i PARTITION OF items
	FOR VALUES WITH (MODULUS $nshards, REMAINDER @{[ $i - 1 ]})
	SERVER shard$i OPTIONS (table_name 'items_$i');
};
}
my $vec = "ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dims) WHERE n > 0)::float8[]::vector";
$coord->safe_psql('postgres', $setup . qq{
	CREATE TABLE flat (id int, f int, v vector($dims));
	SELECT setseed(0.42);
	INSERT INTO flat SELECT n, (n * 7919) % 1000, $vec FROM generate_series(1, 4000) n;
	UPDATE flat SET v = NULL WHERE id % 101 = 0;
	INSERT INTO items SELECT * FROM flat;
	CREATE TABLE qvec (name text, v vector($dims));
	INSERT INTO qvec SELECT 'r' || n, $vec FROM generate_series(1, 2) n;
	INSERT INTO qvec SELECT 'row', v FROM flat WHERE id = 1;
});
for my $i (1 .. $nshards)
{
	my $sql = '';
	$sql .= "CREATE INDEX items_${i}_$SUFFIX{$_} ON items_$i USING hybrid (v $OPCLASS{$_});\n"
	  for @OPS;
	$shards[ $i - 1 ]->safe_psql('postgres', "$sql ANALYZE items_$i;");
}
is( $coord->safe_psql('postgres',
		'SELECT count(*), count(DISTINCT tableoid) FROM items'),
	"4000|$nshards", 'the rows are spread over the three shards');
my $t = lap('setup', $t_start);

# The query vectors as literals, as a client would pass them.
my %q = map { split /\|/ } split /\n/,
  $coord->safe_psql('postgres', 'SELECT name, v FROM qvec ORDER BY name');

# Each query in three forms: flat's sequential scan (the reference), the
# function, and the plain query on the parent; sections for parse_sections.
my @queries;
for my $op (@OPS)
{
	for my $qname (sort keys %q)
	{
		for my $where ('', 'f < 100')
		{
			for my $limit (10, 100)
			{
				my $qv = "'$q{$qname}'";
				my $filter = $where eq '' ? 'NULL' : "'$where'";
				push @queries,
				  {
					name => "v $op $qname" . ($where ne '' ? " WHERE $where" : '') . " LIMIT $limit",
					limit => $limit,
					flat => knn_sql('flat', $op, $qv, $where, $limit),
					parent => knn_sql('items', $op, $qv, $where, $limit),
					function => "SELECT id, v $op $qv FROM hybridsearch_sharded_search("
					  . "NULL::items, 'v', '$op', $qv, $limit, $filter)",
				  };
			}
		}
	}
}

# Problems of the function's and the parent's answers against flat's.
sub answer_problems
{
	my ($out) = @_;
	my $sec = parse_sections($out);
	my @failures;
	for my $i (0 .. $#queries)
	{
		my $ref = parse_rows($sec->{"flat $i"} // []);
		push @failures, "$queries[$i]{name}: reference is empty" unless @$ref;
		for my $form ('function', 'parent')
		{
			my @p = compare_rows(parse_rows($sec->{"$form $i"} // []),
				$ref, $queries[$i]{limit}, [ $form, 'one table' ]);
			push @failures, "$queries[$i]{name}, $form:\n  " . join("\n  ", @p) if @p;
		}
	}
	return @failures;
}

sub answers_script
{
	my $s = "SET extra_float_digits = 3;\nSET enable_indexscan = off;\n";
	for my $i (0 .. $#queries)
	{
		$s .= "\\echo '\@\@$_ $i'\n$queries[$i]{$_};\n" for ('flat', 'function', 'parent');
	}
	return $s;
}

sub check_answers
{
	my ($run, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($ok, $out, $err) = $run->(answers_script());
	my @failures = $ok ? answer_problems($out) : ("psql failed: $err");
	ok(!@failures,
		"$what: function and parent answer like one table (" . scalar(@queries) . " queries)")
	  or diag(join("\n", @failures[ 0 .. ($#failures < 7 ? $#failures : 7) ]));
}

check_answers(node_runner($coord), 'three shards');
$t = lap('answers', $t);

# The plans.  The function's inner query is shown by auto_explain.
my $qv = "'$q{r1}'";
my ($ok, $out, $err) = node_runner($coord)->(qq{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_verbose = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SELECT count(*) FROM hybridsearch_sharded_search(NULL::items, 'v', '<=>', $qv, 10, 'f < 500');
});
ok($ok, 'function under auto_explain') or diag($err);
my ($inner) = $err =~ /(Query Text: WITH s AS MATERIALIZED.*?)(?:NOTICE:|\z)/s;
$inner //= '';
my @async = $inner =~ /Async Foreign Scan on public\.items_\d/g;
is(scalar @async, $nshards, 'function: an Async Foreign Scan on each shard under an Append')
  or diag($err);
like($inner, qr/CTE s\n\s+->  Append  \(cost/, 'function: the shards meet in a plain Append');
my @pushed = $inner =~
  /Remote SQL: SELECT id, f, v FROM public\.items_\d WHERE \(\(f < 500\)\) ORDER BY \(v OPERATOR\(public\.<=>\) '\[[^']*\]'\) ASC NULLS LAST LIMIT 10::bigint/g;
is(scalar @pushed, $nshards, 'function: filter, ORDER BY and LIMIT pushed to every shard')
  or diag($inner);

my $plan = $coord->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items WHERE f < 500 ORDER BY v <=> $qv LIMIT 10");
like($plan, qr/Limit\n.*\n\s+->  Merge Append\n/, 'parent: a Limit over a Merge Append');
my @sorted = $plan =~
  /Remote SQL: SELECT id, v FROM public\.items_\d WHERE \(\(f < 500\)\) ORDER BY \(v OPERATOR\(public\.<=>\) '\[[^']*\]'\) ASC NULLS LAST$/mg;
is(scalar @sorted, $nshards, 'parent: filter and ORDER BY pushed to every shard, LIMIT not')
  or diag($plan);
unlike($plan, qr/Async/, 'parent: the shards run one after another');

# A prepared statement's generic plan ships the query vector as a parameter.
$plan = $coord->safe_psql('postgres', qq{
	SET plan_cache_mode = force_generic_plan;
	PREPARE knn(vector) AS SELECT id FROM items ORDER BY v <-> \$1 LIMIT 5;
	EXPLAIN (VERBOSE, COSTS OFF) EXECUTE knn($qv);
});
my @param = $plan =~ /ORDER BY \(v OPERATOR\(public\.<->\) \$1::public\.vector\) ASC NULLS LAST$/mg;
is(scalar @param, $nshards, 'parent, generic plan: the query vector goes to the shards as $1')
  or diag($plan);

# Without hybridsearch in "extensions", postgres_fdw ships no ORDER BY on
# our operators: the shard sends every row and the coordinator sorts.
$plan = $coord->safe_psql('postgres', qq{
	ALTER SERVER shard1 OPTIONS (DROP extensions);
	EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items_1 ORDER BY v <=> $qv LIMIT 10;
	ALTER SERVER shard1 OPTIONS (ADD extensions 'hybridsearch');
});
like($plan, qr/Remote SQL: SELECT id, v FROM public\.items_1$/m,
	'without extensions: the shard is asked for every row, unordered');
like($plan, qr/->  Sort\n/, 'without extensions: the coordinator sorts');

# Each shard plans the query it is sent on its hybrid index: on the CPU
# path, since the GPU's fixed cost per scan rightly loses to a sequential
# scan of shards this small (the GPU runner sets gpu_min_rows = 0).
for my $i (1 .. $nshards)
{
	my $plan_i = $shards[ $i - 1 ]->safe_psql('postgres', qq{
		SET hybridsearch.device = cpu;
		EXPLAIN (COSTS OFF) SELECT id, f, v FROM public.items_$i
		ORDER BY (v OPERATOR(public.<=>) $qv) ASC NULLS LAST LIMIT 10});
	like($plan_i, qr/Index Scan using items_${i}_cos on items_$i/,
		"shard $i plans the pushed-down query on its hybrid index");
}
$t = lap('plans', $t);

# A shard goes down.  A session that has used every shard before, and a new
# one: both forms fail with the connection error and return no rows.
my $session = HybridSearchTest::Session->new($coord);
check_answers(session_runner($session), 'session before the shard stops');
$shards[1]->stop('fast');
my $fail = sub {
	my ($run, $what) = @_;
	for my $form ('function', 'parent')
	{
		my ($ok, $out, $err) = $run->("\\set VERBOSITY verbose\n$queries[0]{$form};");
		ok(!$ok && $out eq '', "$what, $form: error, no rows") or diag("out: $out\nerr: $err");
		like($err, qr/ERROR:  08001: could not connect to server "shard2"/,
			"$what, $form: SQLSTATE 08001 naming the shard");
	}
};
$fail->(session_runner($session), 'shard 2 down, open session');
$fail->(node_runner($coord), 'shard 2 down, new session');
$t = lap('shard down', $t);

$shards[1]->start;
check_answers(session_runner($session), 'shard 2 back, the same session');
check_answers(node_runner($coord), 'shard 2 back, a new session');
$session->close;
$t = lap('shard back', $t);

note(sprintf("090_sharding total: %.1f s", time - $t_start));
$_->stop for ($coord, @shards);
done_testing();
