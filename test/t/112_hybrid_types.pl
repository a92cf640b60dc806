# Exactness of hybrid indexes over halfvec, bit and sparsevec (operator
# classes halfvec_{l2,ip,cosine,l1}_ops, bit_{hamming,jaccard}_ops,
# sparsevec_{l2,ip,cosine,l1}_ops) and over pgvector's expression forms
# (v::halfvec(n), binary_quantize(v)::bit(n)): every index scan returns what
# a sequential scan of the same query returns (compare_plans: the ordered
# distances, the ids of each distance, EXPLAIN showing the index), halfvec
# indexes through their fp16 copy, a float4 copy and their pages, for
# tables of 0, 1, 11, 3000 and 800 rows with NULL, zero and duplicate
# values, filters keeping all, 10% and 0.1% of the rows, LIMIT 1, 10, 200
# and none, ORDER BY a NULL query; after INSERT, UPDATE, DELETE, VACUUM and
# REINDEX; after a SIGKILL and crash recovery; on a streaming standby; and
# under concurrent inserts, updates and deletes (pgbench with knn_check).
# hybridsearch_verify passes for every index after each phase.
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

# Per kind: the column type, an expression of it from a float8[] of random
# elements ($arr) and the operator classes by operator.
my %KIND = (
	half => {
		type => sub { "halfvec($_[0])" },
		value => sub { my ($arr, $dim) = @_; "${arr}::vector::halfvec($dim)" },
		element => 'random() * 2 - 1',
		ops => {
			'<->' => 'halfvec_l2_ops',
			'<#>' => 'halfvec_ip_ops',
			'<=>' => 'halfvec_cosine_ops',
			'<+>' => 'halfvec_l1_ops'
		}
	},
	bit => {
		type => sub { "bit($_[0])" },
		value => sub { my ($arr, $dim) = @_; "binary_quantize(${arr}::vector)::bit($dim)" },
		element => 'random() * 2 - 1',
		ops => { '<~>' => 'bit_hamming_ops', '<%>' => 'bit_jaccard_ops' }
	},
	sparse => {
		type => sub { "sparsevec($_[0])" },
		value => sub { my ($arr, $dim) = @_; "${arr}::vector::sparsevec($dim)" },
		# mostly zeros, coarse values: many tied distances
		element => 'CASE WHEN random() < 0.8 THEN 0 ELSE round((random() * 4)::numeric) / 2 - 1 END',
		ops => {
			'<->' => 'sparsevec_l2_ops',
			'<#>' => 'sparsevec_ip_ops',
			'<=>' => 'sparsevec_cosine_ops',
			'<+>' => 'sparsevec_l1_ops'
		}
	});

sub value_expr
{
	my ($kind, $dim) = @_;
	my $arr = "ARRAY(SELECT $KIND{$kind}{element} FROM generate_series(1, $dim) WHERE i > 0)::float8[]";
	return $KIND{$kind}{value}->($arr, $dim);
}

sub ops_of { my ($kind) = @_; return [ sort keys %{ $KIND{$kind}{ops} } ]; }

# Table <kind>_<dim>_<rows> (id, f, v); f = (id * 7919) % 1000 drives the
# filters.  Every 97th value NULL, every 89th zero, every 83rd a copy of
# row 1.  Query vectors r1 (random), row (row 1's), zero and null in qvec.
my @tables;

sub create_table
{
	my ($kind, $dim, $rows, $seed) = @_;
	my $name = "${kind}_${dim}_$rows";
	my $type = $KIND{$kind}{type}->($dim);
	my $value = value_expr($kind, $dim);
	my $zero = "array_fill(0, ARRAY[$dim])::float8[]";
	my $sql = "SELECT setseed($seed);\n"
	  . "CREATE TABLE $name (id int, f int, v $type);\n"
	  . "INSERT INTO $name SELECT i, (i * 7919) % 1000, $value FROM generate_series(1, $rows) i;\n"
	  . "UPDATE $name SET v = NULL WHERE id % 97 = 5;\n"
	  . "UPDATE $name SET v = " . $KIND{$kind}{value}->($zero, $dim) . " WHERE id % 89 = 7;\n"
	  . "UPDATE $name SET v = (SELECT v FROM $name WHERE id = 1) WHERE id % 83 = 3;\n"
	  . "INSERT INTO qvec SELECT '$name', 'r1', ($value)::text FROM generate_series(1, 1) i;\n"
	  . "INSERT INTO qvec SELECT '$name', 'row', coalesce((SELECT v FROM $name WHERE id = 1), ($value))::text FROM generate_series(1, 1) i;\n"
	  . "INSERT INTO qvec SELECT '$name', 'zero', (" . $KIND{$kind}{value}->($zero, $dim) . ")::text;\n"
	  . "INSERT INTO qvec VALUES ('$name', 'null', NULL);\n";
	$sql .= "CREATE INDEX ${name}_$SUFFIX{$_} ON $name USING hybrid (v $KIND{$kind}{ops}{$_});\n"
	  for @{ ops_of($kind) };
	push @tables, { name => $name, kind => $kind, dim => $dim, rows => $rows };
	return $sql;
}

sub table_checks
{
	my ($table, %a) = @_;
	return knn_checks(
		table => $table->{name},
		ops => ops_of($table->{kind}),
		qtype => $KIND{ $table->{kind} }{type}->($table->{dim}),
		queries => $a{queries} // [ 'r1', 'row', 'zero', 'null' ],
		wheres => $a{wheres} // [ '', 'f < 100', 'f = 0' ],
		limits => $a{limits} // [ 1, 10, 200, undef ]);
}

my @indexes;

# SQL inserting rows $base + 1 .. $base + $count into every table, with f
# = $f and the value NULL where i % $null_every = 0 (when given).
sub insert_all_sql
{
	my ($base, $count, $f, $null_every) = @_;
	return join('', map {
		my $value = value_expr($_->{kind}, $_->{dim});
		$value = "CASE WHEN i % $null_every = 0 THEN NULL ELSE $value END" if $null_every;
		"INSERT INTO $_->{name} SELECT $base + i, $f, $value FROM generate_series(1, $count) i;\n"
	} @tables);
}

sub all_indexes
{
	return map {
		my $t = $_;
		map { "$t->{name}_$SUFFIX{$_}" } @{ ops_of($t->{kind}) }
	} @tables;
}

my $node = PostgreSQL::Test::Cluster->new('types');
$node->init(allows_streaming => 1, extra => ['--data-checksums']);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 64MB
max_parallel_workers_per_gather = 0
jit = off
shared_buffers = 64MB
restart_after_crash = on
});
$node->start;
my $run = node_runner($node);

my $setup = "CREATE EXTENSION hybridsearch;\nCREATE TABLE qvec (tab text, name text, v text);\n";
my $seed = 0.3;
for my $kind (sort keys %KIND)
{
	for my $rows (0, 1, 11, 3000)
	{
		$setup .= create_table($kind, 8, $rows, $seed);
		$seed += 0.01;
	}
}
$setup .= create_table('half', 300, 800, 0.51);
$setup .= create_table('bit', 1024, 800, 0.52);
$setup .= create_table('sparse', 2000, 800, 0.53);
$node->safe_psql('postgres', $setup);
@indexes = all_indexes();

my $t = time;

# Every table, every check; and verify every index.
sub check_all
{
	my ($what, $runner, %a) = @_;
	for my $table (@tables)
	{
		my @checks = table_checks($table, %a);
		compare_plans($runner // $run, "$what: $table->{name}", '', @checks);
	}
}

# A smaller set for the phases that run it more than once.
my %few = (queries => [ 'r1', 'row' ], wheres => [ '', 'f < 100' ], limits => [ 10, undef ]);

check_all('after CREATE INDEX');
verify_indexes($node, 'after CREATE INDEX', @indexes);
$t = lap('after CREATE INDEX', $t);

# halfvec indexes keep an fp16 copy by default: also their pages streamed,
# and a float4 copy
{
	my @half = grep { $_->{kind} eq 'half' } @tables;
	my @half_indexes = map {
		my $t = $_;
		map { "$t->{name}_$SUFFIX{$_}" } @{ ops_of('half') }
	} @half;
	compare_plans($run, "cpu_cache off: $_->{name}", 'SET hybridsearch.cpu_cache = off;',
		table_checks($_, %few))
	  for @half;
	$node->safe_psql('postgres', join('', map { "ALTER INDEX $_ SET (precision = full);\n" } @half_indexes));
	compare_plans($run, "precision full: $_->{name}", '', table_checks($_, %few)) for @half;
	$node->safe_psql('postgres', join('', map { "ALTER INDEX $_ RESET (precision);\n" } @half_indexes));
}
$t = lap('halfvec streamed and with a float4 copy', $t);

# ---------------------------------------------------------------------------
# INSERT, UPDATE, DELETE, VACUUM, REINDEX
# ---------------------------------------------------------------------------
{
	my $sql = "SELECT setseed(0.61);\n";
	for my $table (@tables)
	{
		my ($name, $kind, $dim, $rows) = @$table{qw(name kind dim rows)};
		my $value = value_expr($kind, $dim);
		$sql .= "INSERT INTO $name SELECT i, (i * 7919) % 1000, CASE WHEN i % 50 = 0 THEN NULL ELSE $value END "
		  . "FROM generate_series($rows + 1, $rows + 1 + " . int($rows / 4) . ") i;\n"
		  . "UPDATE $name SET v = $value FROM generate_series(1, 1) i WHERE id % 7 = 2;\n"
		  . "UPDATE $name SET v = (SELECT v FROM $name WHERE id = 1) WHERE id % 11 = 4;\n"
		  . "DELETE FROM $name WHERE id % 13 = 6;\n";
	}
	$node->safe_psql('postgres', $sql);
}
check_all('after INSERT, UPDATE, DELETE', undef, %few);
$node->safe_psql('postgres', join('', map { "VACUUM $_->{name};\n" } @tables));
check_all('after VACUUM', undef, %few);
# heap slots freed by VACUUM reused by new rows
$node->safe_psql('postgres', "SELECT setseed(0.62);\n" . insert_all_sql(100000, 30, 'i'));
check_all('after inserts into freed slots', undef, %few);
verify_indexes($node, 'after DML and VACUUM', @indexes);
$node->safe_psql('postgres', join('', map { "REINDEX TABLE $_->{name};\n" } @tables));
check_all('after REINDEX', undef, %few);
verify_indexes($node, 'after REINDEX', @indexes);
$t = lap('DML, VACUUM, REINDEX', $t);

# ---------------------------------------------------------------------------
# pgvector's expression indexes over a vector column
# ---------------------------------------------------------------------------
{
	$node->safe_psql('postgres', q{
		SELECT setseed(0.71);
		CREATE TABLE ev (id int, f int, v vector(64));
		INSERT INTO ev SELECT i, (i * 7919) % 1000,
			ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 64) WHERE i > 0)::float8[]::vector
		FROM generate_series(1, 2000) i;
		UPDATE ev SET v = NULL WHERE id % 97 = 5;
		UPDATE ev SET v = (SELECT v FROM ev WHERE id = 1) WHERE id % 83 = 3;
		CREATE INDEX ev_half ON ev USING hybrid ((v::halfvec(64)) halfvec_l2_ops);
		CREATE INDEX ev_bit ON ev USING hybrid ((binary_quantize(v)::bit(64)) bit_hamming_ops);
		CREATE INDEX ev_halfcos ON ev USING hybrid ((v::halfvec(64)) halfvec_cosine_ops);
		INSERT INTO ev SELECT 5000 + i, i, ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 64) WHERE i > 0)::float8[]::vector
		FROM generate_series(1, 100) i;
		DELETE FROM ev WHERE id % 17 = 1;
	});
	my $q = "(SELECT v FROM ev WHERE id = 2)";
	my $qq = "'[" . join(',', map { sprintf('%.3f', sin($_)) } 1 .. 64) . "]'::vector";
	my @checks;
	for my $where ('', 'f < 100')
	{
		for my $limit (1, 10, 200, undef)
		{
			my $w = $where ne '' ? " WHERE $where" : '';
			my $l = defined $limit ? " LIMIT $limit" : '';
			for my $query ($q, $qq)
			{
				push @checks,
				  {
					name => "ev halfvec l2$w$l",
					sql => "SELECT id, v::halfvec(64) <-> ${query}::halfvec(64) FROM ev$w ORDER BY v::halfvec(64) <-> ${query}::halfvec(64)$l",
					index => 'ev_half',
					limit => $limit
				  },
				  {
					name => "ev halfvec cosine$w$l",
					sql => "SELECT id, v::halfvec(64) <=> ${query}::halfvec(64) FROM ev$w ORDER BY v::halfvec(64) <=> ${query}::halfvec(64)$l",
					index => 'ev_halfcos',
					limit => $limit
				  },
				  {
					name => "ev binary_quantize hamming$w$l",
					sql => "SELECT id, binary_quantize(v)::bit(64) <~> binary_quantize($query) FROM ev$w ORDER BY binary_quantize(v)::bit(64) <~> binary_quantize($query)$l",
					index => 'ev_bit',
					limit => $limit
				  };
			}
		}
	}
	compare_plans($run, 'expression indexes', '', @checks);

	# re-ranking the binary candidates by the vectors, as pgvector's README does
	my $rerank = "SELECT id FROM (SELECT id, v FROM ev ORDER BY binary_quantize(v)::bit(64) <~> binary_quantize($qq) LIMIT 200) c "
	  . "ORDER BY v <=> $qq, id LIMIT 10";
	my $plan = $node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $rerank");
	like($plan, qr/Index Scan using ev_bit on ev/, 're-ranking query: candidates come from the bit index');
	my $indexed = $node->safe_psql('postgres', "SET enable_seqscan = off; $rerank");
	my $sequential = $node->safe_psql('postgres', "SET enable_indexscan = off; $rerank");
	is($indexed, $sequential, 're-ranking query: the same rows as with sequential scans');
	isnt($indexed, '', 're-ranking query: returns rows');
	verify_indexes($node, 'expression indexes', 'ev_half', 'ev_bit', 'ev_halfcos');
}
$t = lap('expression indexes', $t);

# ---------------------------------------------------------------------------
# SIGKILL of a backend, crash recovery
# ---------------------------------------------------------------------------
{
	my $open = HybridSearchTest::Session->new($node);
	my ($ok, $out, $err) = $open->run("BEGIN;\n" . insert_all_sql(900000, 20, '0'));
	ok($ok, 'crash: uncommitted inserts in an open transaction') or diag($err);
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_type = 'client backend'");
	# committed rows just before the crash, still in shared buffers
	$node->safe_psql('postgres', "SELECT setseed(0.81);\n" . insert_all_sql(200000, 25, 'i'));
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, 'crash: SIGKILL to a backend');
	ok(wait_for_restart($node), 'crash: the server is back after crash recovery');
	ok($node->log_contains(qr/automatic recovery in progress/, $log_offset),
		'crash: the server log shows the recovery');
	eval { $open->{h}->kill_kill; };
	my $counts = $node->safe_psql('postgres',
		join(' UNION ALL ', map {
			"SELECT count(*) FILTER (WHERE id > 900000) || ':' || count(*) FILTER (WHERE id BETWEEN 200001 AND 200025) FROM $_->{name}"
		} @tables));
	is($counts, join("\n", ('0:25') x @tables),
		'crash: committed rows survive, the uncommitted ones are gone');
	check_all('after crash recovery', undef, %few);
	verify_indexes($node, 'after crash recovery', @indexes);
}
$t = lap('crash recovery', $t);

# ---------------------------------------------------------------------------
# A streaming standby
# ---------------------------------------------------------------------------
{
	$node->backup('base');
	my $standby = PostgreSQL::Test::Cluster->new('types_standby');
	$standby->init_from_backup($node, 'base', has_streaming => 1);
	$standby->start;
	$node->safe_psql('postgres',
		"SELECT setseed(0.91);\n"
		  . insert_all_sql(300000, 40, 'i', 9)
		  . join('', map { "DELETE FROM $_->{name} WHERE id % 29 = 3;\n" } @tables)
		  . join('', map { "VACUUM $_->{name};\n" } @tables));
	$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
	check_all('standby', node_runner($standby), %few);
	# the standby's index scans answer like the primary's
	my $same = 1;
	for my $table (@tables)
	{
		for my $op (@{ ops_of($table->{kind}) })
		{
			my $q = qexpr($table->{name}, 'r1', $KIND{ $table->{kind} }{type}->($table->{dim}));
			my $sql = "SET enable_seqscan = off; SELECT string_agg(id::text, ',') FROM "
			  . "(SELECT id FROM $table->{name} ORDER BY v $op $q, id LIMIT 50) s";
			my $primary_ids = $node->safe_psql('postgres', $sql);
			my $standby_ids = $standby->safe_psql('postgres', $sql);
			next if $primary_ids eq $standby_ids;
			diag("$table->{name} $op: primary $primary_ids, standby $standby_ids");
			$same = 0;
		}
	}
	ok($same, "standby: the same 50 nearest rows as the primary");
	$standby->stop;
}
$t = lap('standby', $t);

# ---------------------------------------------------------------------------
# Concurrent inserts, updates and deletes while scanning
# ---------------------------------------------------------------------------
{
	$node->safe_psql('postgres',
		join('', map { knn_check_sql($_) } 'halfvec', 'bit', 'sparsevec')
		  . "CREATE SEQUENCE ids START 1000000;\n");
	my %scripts;
	my @busy = grep { $_->{rows} == 3000 } @tables;
	for my $table (@busy)
	{
		my ($name, $kind, $dim) = @$table{qw(name kind dim)};
		my $value = value_expr($kind, $dim);
		my $type = $KIND{$kind}{type}->($dim);
		$scripts{"insert_$kind\@3"} = qq{
\\set f random(0, 999)
INSERT INTO $name SELECT nextval('ids'), :f, CASE WHEN :f < 20 THEN NULL ELSE $value END FROM generate_series(1, 3) i;
};
		$scripts{"change_$kind\@2"} = qq{
\\set id random(1, 3000)
UPDATE $name SET v = $value FROM generate_series(1, 1) i WHERE id = :id;
DELETE FROM $name WHERE id = :id + 1;
};
		my $checks = join('', map {
			"SELECT knn_check('$name', '$_', coalesce((SELECT v FROM $name WHERE id = :id), "
			  . qexpr($name, 'r1', $type) . "), :lim, 'true');\n"
			  . "SELECT knn_check('$name', '$_', " . qexpr($name, 'r1', $type) . ", :lim, 'f < 300');\n"
		} @{ ops_of($kind) });
		$scripts{"query_$kind\@5"} = qq{
\\set lim random(1, 120)
\\set id random(1, 3000)
BEGIN ISOLATION LEVEL REPEATABLE READ;
$checks
COMMIT;
};
	}
	$scripts{'vacuum@1'} = join('', map { "VACUUM $_->{name};\n" } @busy);
	my $clients = 4;
	my $per_client = 150;
	my $total = $clients * $per_client;
	$node->pgbench(
		"--no-vacuum --client=$clients --jobs=2 --transactions=$per_client",
		0,
		[qr{processed: $total/$total}],
		[qr{\A(?!.*(?:ERROR|error:|aborted))}s],
		'pgbench: checked queries alongside inserts, updates, deletes and VACUUM',
		{ map { ("112_$_" => $scripts{$_}) } keys %scripts });
	check_all('after the concurrent load', undef, %few);
	verify_indexes($node, 'after the concurrent load', @indexes);
}
$t = lap('concurrency', $t);

$node->stop;
note(sprintf('total: %.1f s', time - $t_start));
done_testing();
