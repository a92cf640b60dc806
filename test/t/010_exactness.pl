# Exactness of the hybrid index: an index scan returns the same rows in the
# same order as a sequential scan of the same query, for any LIMIT and WHERE
# filter, NULL vectors last (after NaN distances), with bit-identical
# distances.  Only rows with exactly equal distances may come in a different
# order, so each comparison checks
#   - the ordered list of distances (as text, extra_float_digits = 3),
#   - the set of ids of every distinct distance (except the last group of a
#     result cut off by its LIMIT, where any of the tied rows may be chosen),
#   - that no id comes twice,
#   - that EXPLAIN shows "Index Scan using <the index>" for the index plan and
#     no index scan for the sequential one.
# Covered: table sizes 0, 1, k-1, k, k+1 and 20000 (k = 10, also LIMIT 50 and
# 500), dimensions 1, 3, 8, 16, 768 and 4000, all four operator classes,
# filters keeping 100%, 10% and 0.1% of the rows, NULL, zero and duplicate
# vectors, extreme magnitudes, precision full and half, shared copies, copies
# too large for hybridsearch.shared_cache_size and hybridsearch.cpu_cache off
# (both stream the pages), cpu_threads 1 and 2,
# typed and untyped columns, INSERT, UPDATE, DELETE, VACUUM (with heap slots
# reused by later inserts while another session keeps a warm cache), REINDEX,
# REINDEX CONCURRENTLY, CREATE INDEX CONCURRENTLY, ALTER INDEX SET
# (precision), a transaction's own uncommitted changes, rollback, TRUNCATE,
# DROP INDEX, and the dimension errors; and that a half index's LIMIT 10
# scores about ten candidates exactly, not all of them.
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
my $node_main;

# ---------------------------------------------------------------------------
# Data.
# ---------------------------------------------------------------------------

# Element expressions (i is the row number, so each row gets new randoms).
my %GEN = (
	uniform => 'random() * 2 - 1',
	# few distinct values: many duplicate vectors and exactly tied distances
	coarse => 'round((random() * 4)::numeric) / 2 - 1',
	# magnitudes from 1e-6 to 1e6, both signs
	wide => '(random() * 2 - 1) * 10 ^ (random() * 12 - 6)',
	# magnitudes from 1e-37 to 1e13, both signs: float arithmetic of the
	# operators underflows, fp16 copies depend on the per-row scale
	extreme => '(CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * 10 ^ (random() * 50 - 37)',
);

sub vec_expr
{
	my ($gen, $dim) = @_;
	return "ARRAY(SELECT $GEN{$gen} FROM generate_series(1, $dim) WHERE i > 0)::float8[]::vector";
}

# Table $name (id, f, v) with $rows rows; f = (id * 7919) % 1000 drives the
# filters.  With specials, some rows get NULL, zero and duplicated vectors.
sub create_table
{
	my (%a) = @_;
	my ($name, $dim, $rows, $gen) = @a{qw(name dim rows gen)};
	my $type = $a{untyped} ? 'vector' : "vector($dim)";
	my $sql = "SELECT setseed($a{seed});\n"
	  . "CREATE TABLE $name (id int, f int, v $type);\n"
	  . "INSERT INTO $name SELECT i, (i * 7919) % 1000, "
	  . vec_expr($gen, $dim)
	  . " FROM generate_series(1, $rows) i;\n";
	if ($a{specials})
	{
		# every 97th vector NULL, every 89th zero, every 83rd a copy of row 1
		$sql .= "UPDATE $name SET v = NULL WHERE id % 97 = 5;\n"
		  . "UPDATE $name SET v = array_fill(0, ARRAY[$dim])::vector WHERE id % 89 = 7;\n"
		  . "UPDATE $name SET v = (SELECT v FROM $name WHERE id = 1) WHERE id % 83 = 3;\n"
		  . "VACUUM $name;\n";
	}
	$sql .= query_vectors_sql($name, $dim, $gen);
	$node_main->safe_psql('postgres', $sql);
}

# Query vectors of a table: two random ones (r1 uniform, r2 from the
# table's own distribution), a vector stored in the table (row), the zero
# vector (zero: cosine distances all NaN) and NULL (null).
sub query_vectors_sql
{
	my ($table, $dim, $gen) = @_;
	return "DELETE FROM qvec WHERE tab = '$table';\n"
	  . "INSERT INTO qvec SELECT '$table', 'r1', "
	  . vec_expr('uniform', $dim)
	  . " FROM generate_series(1, 1) i;\n"
	  . "INSERT INTO qvec SELECT '$table', 'r2', "
	  . vec_expr($gen, $dim)
	  . " FROM generate_series(1, 1) i;\n"
	  . "INSERT INTO qvec SELECT '$table', 'row', v FROM $table WHERE v IS NOT NULL ORDER BY id LIMIT 1;\n"
	  . "INSERT INTO qvec SELECT '$table', 'zero', array_fill(0, ARRAY[$dim])::vector;\n"
	  . "INSERT INTO qvec VALUES ('$table', 'null', NULL);\n";
}

# One index per operator class, named <table>_<l2|ip|cos|l1>.
sub create_indexes
{
	my ($table, $precision) = @_;
	my $with = defined $precision ? " WITH (precision = '$precision')" : '';
	return join('',
		map { "CREATE INDEX ${table}_$SUFFIX{$_} ON $table USING hybrid (v $OPCLASS{$_})$with;\n" }
		  @OPS);
}

sub drop_indexes
{
	my ($table) = @_;
	return join('', map { "DROP INDEX IF EXISTS ${table}_$SUFFIX{$_};\n" } @OPS);
}

# ---------------------------------------------------------------------------

# The comparison itself: it accepts tied rows in another order and flags
# everything else.
{
	my $base = [ [ 1, '0.5' ], [ 2, '0.5' ], [ 3, '0.7' ], [ 4, 'NaN' ], [ 5, 'NULL' ] ];
	is(scalar(compare_rows([ @$base[ 1, 0, 2, 3, 4 ] ], $base, undef)),
		0, 'comparison: tied rows in another order are accepted');
	ok(scalar(compare_rows([ @$base[ 0, 2, 1, 3, 4 ] ], $base, undef)),
		'comparison: rows out of order are flagged');
	ok(scalar(compare_rows([ @$base[ 0, 1, 2, 3 ] ], $base, undef)),
		'comparison: a missing row is flagged');
	ok(scalar(compare_rows([ @$base[ 0, 0, 2, 3, 4 ] ], $base, undef)),
		'comparison: a row returned twice is flagged');
	ok(scalar(compare_rows([ $base->[0], [ 9, '0.5' ], @$base[ 2, 3, 4 ] ], $base, undef)),
		'comparison: another row of the same distance is flagged');
	ok(scalar(compare_rows([ @$base[ 0, 1, 2, 4, 3 ] ], $base, undef)),
		'comparison: NULL before NaN is flagged');
	is(scalar(compare_rows([ [ 1, '0.5' ], [ 9, '0.5' ] ], [ [ 1, '0.5' ], [ 2, '0.5' ] ], 2)),
		0, 'comparison: another tied row where the LIMIT cuts the group is accepted');
}

$node_main = PostgreSQL::Test::Cluster->new('exactness');
# data checksums: the parallel loads verify them
$node_main->init(extra => ['--data-checksums']);
# The preload gives scans one shared copy per index; 128 MB of it keeps the
# small indexes and makes the largest (20000 x 4000) stream its pages.
$node_main->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 128MB
max_parallel_workers_per_gather = 0
# enable_seqscan = off makes every plan look expensive enough to JIT-compile
jit = off
max_parallel_maintenance_workers = 0
shared_buffers = 64MB
});
$node_main->start;
my $node = $node_main;
my $run = node_runner($node);

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
});

my $t = time;

# ---------------------------------------------------------------------------
# 1. Tiny tables: 0, 1, k-1, k, k+1 rows (k = 10) in 1, 3, 768, 4000 dims,
#    and tables of NULL vectors only.
# ---------------------------------------------------------------------------
{
	my $seed = 0.1;
	for my $dim (1, 3, 768, 4000)
	{
		my (@checks, $sql);
		$sql = '';
		for my $rows (0, 1, 9, 10, 11)
		{
			my $name = "tiny_${dim}_$rows";
			create_table(name => $name, dim => $dim, rows => $rows, gen => 'uniform', seed => $seed);
			$seed += 0.01;
			# a NULL and a zero vector among the rows of the larger ones
			$sql .= "UPDATE $name SET v = NULL WHERE id = 2;\n"
			  . "UPDATE $name SET v = array_fill(0, ARRAY[$dim])::vector WHERE id = 3;\n"
			  if $rows >= 9;
			push @checks,
			  knn_checks(
				table => $name,
				queries => [ 'r1', 'row', 'zero', 'null' ],
				wheres => [ '', 'id % 2 = 0' ],
				limits => [ 10, undef ]);
		}
		# a table of NULL vectors only
		$sql .= "CREATE TABLE nulls_$dim (id int, f int, v vector($dim));\n"
		  . "INSERT INTO nulls_$dim SELECT i, i, NULL FROM generate_series(1, 12) i;\n"
		  . query_vectors_sql("nulls_$dim", $dim, 'uniform');
		push @checks,
		  knn_checks(
			table => "nulls_$dim",
			queries => [ 'r1', 'null' ],
			wheres => [ '', 'id % 2 = 0' ],
			limits => [ 10, undef ]);
		$node->safe_psql('postgres', $sql);
		for my $precision ('full', 'half')
		{
			$node->safe_psql('postgres',
				join('', map { drop_indexes($_) . create_indexes($_, $precision) }
					  ((map { "tiny_${dim}_$_" } (0, 1, 9, 10, 11)), "nulls_$dim")));
			compare_plans($run, "tiny tables, $dim dims, precision $precision", '', @checks);
		}
	}
	$t = lap('tiny tables', $t);
}

# ---------------------------------------------------------------------------
# 2. Larger tables, every filter and limit, both precisions, the settings.
# ---------------------------------------------------------------------------
my @big = (
	# name, dims, rows, values, untyped
	[ 'coarse3', 3, 20000, 'coarse', 0 ],
	[ 'uni16', 16, 20000, 'uniform', 1 ],
	[ 'dim768', 768, 2000, 'uniform', 0 ],
	[ 'dim4000', 4000, 300, 'wide', 0 ],
	[ 'extreme5', 5, 1000, 'extreme', 0 ],
	[ 'dim1', 1, 3000, 'coarse', 0 ],
);
my %settings = (
	coarse3 => [
		[ 'full', '' ],
		[ 'half', '' ],
		[ 'full', 'SET hybridsearch.cpu_cache = off; SET hybridsearch.cpu_threads = 1;' ],
		[ 'half', 'SET hybridsearch.cpu_cache = off; SET hybridsearch.cpu_threads = 2;' ],
	],
	uni16 => [
		[ 'full', 'SET hybridsearch.cpu_threads = 1;' ],
		[ 'half', 'SET hybridsearch.cpu_threads = 2;' ],
		[ 'half', 'SET hybridsearch.cpu_cache = off;' ],
		# a copy larger than the cache is used for one scan and dropped
		[ 'full', q{SET hybridsearch.cpu_cache_size = '1MB'; SET hybridsearch.cpu_threads = 2;} ],
	],
	dim768 => [ [ 'full', '' ], [ 'half', '' ], [ 'half', 'SET hybridsearch.cpu_cache = off;' ] ],
	dim4000 => [ [ 'full', '' ], [ 'half', '' ] ],
	extreme5 => [ [ 'full', '' ], [ 'half', '' ] ],
	dim1 => [ [ 'full', '' ], [ 'half', 'SET hybridsearch.cpu_cache = off;' ] ],
);
{
	my $seed = 0.3;
	for my $b (@big)
	{
		my ($name, $dim, $rows, $gen, $untyped) = @$b;
		create_table(
			name => $name, dim => $dim, rows => $rows, gen => $gen,
			untyped => $untyped, specials => 1, seed => $seed);
		$seed += 0.01;
		my @checks = knn_checks(
			table => $name,
			queries => [ 'r1', 'r2', 'row', 'zero', 'null' ],
			wheres => [ '', 'f < 100', 'f = 0' ],
			limits => [ 10, 50, 500 ]);
		# whole results, no LIMIT
		push @checks,
		  knn_checks(
			table => $name,
			queries => [ 'r2', 'zero' ],
			wheres => [ $rows > 5000 ? 'f < 100' : '' ],
			limits => [undef]);
		for my $s (@{ $settings{$name} })
		{
			my ($precision, $setup) = @$s;
			$node->safe_psql('postgres', drop_indexes($name) . create_indexes($name, $precision));
			compare_plans($run,
				"$name ($rows x $dim, $gen" . ($untyped ? ', untyped column' : '') . "), precision $precision"
				  . ($setup ne '' ? ", $setup" : ''),
				$setup, @checks);
		}
		$t = lap($name, $t);
	}
}

# ---------------------------------------------------------------------------
# 2b. Randomised rounds: more shapes, one table each, alternating settings.
# ---------------------------------------------------------------------------
{
	my @rounds = (
		[ 2, 4000, 'coarse', 'full', 'SET hybridsearch.cpu_threads = 2;' ],
		[ 7, 6000, 'uniform', 'half', 'SET hybridsearch.cpu_threads = 2;' ],
		[ 33, 3000, 'wide', 'half', 'SET hybridsearch.cpu_cache = off;' ],
		[ 100, 1500, 'coarse', 'half', '' ],
		[ 64, 2500, 'wide', 'full', 'SET hybridsearch.cpu_threads = 1;' ],
		[ 5, 9000, 'uniform', 'full', 'SET hybridsearch.cpu_cache = off; SET hybridsearch.cpu_threads = 2;' ],
	);
	my $r = 0;
	for my $round (@rounds)
	{
		my ($dim, $rows, $gen, $precision, $setup) = @$round;
		my $name = 'round' . ++$r;
		create_table(
			name => $name, dim => $dim, rows => $rows, gen => $gen,
			untyped => $r % 2, specials => 1, seed => 0.7 + $r / 100);
		$node->safe_psql('postgres', create_indexes($name, $precision));
		compare_plans($run, "$name ($rows x $dim, $gen), precision $precision"
			  . ($setup ne '' ? ", $setup" : ''),
			$setup,
			knn_checks(
				table => $name,
				queries => [ 'r1', 'r2', 'row' ],
				wheres => [ '', 'f < 100', 'f = 0' ],
				limits => [ 10, 100 ]));
	}
	$t = lap('randomised rounds', $t);
}

# ---------------------------------------------------------------------------
# 2c. Vectors of tiny magnitude, more rows than one batch of the search:
#     the operators' float arithmetic underflows (cosine of [1e-23,1e-23,
#     1e-23] and [1,0,0] is 0), and the fp16 copy of a row whose elements
#     are all below 2^-113 needs a scale beyond float's range.
# ---------------------------------------------------------------------------
{
	$node->safe_psql('postgres', q{
		CREATE TABLE tinymag (id int, f int, v vector(3));
		INSERT INTO tinymag VALUES (1, 0, '[1e-23,1e-23,1e-23]'), (2, 0, '[1e-36,1e-36,1e-36]'),
			(3, 0, '[1e-36,0,2e-36]'), (4, 0, '[0,1,0]');
		INSERT INTO tinymag SELECT 100 + i, i, ARRAY[1, i / 300.0, 0.1]::float8[]::vector
			FROM generate_series(1, 200) i;
		INSERT INTO qvec VALUES ('tinymag', 'x', '[1,0,0]'), ('tinymag', 'small', '[0.001,0.001,0.001]'),
			('tinymag', 'r1', '[0.3,-0.2,0.1]');
	});
	my @checks = knn_checks(
		table => 'tinymag',
		queries => [ 'x', 'small', 'r1' ],
		wheres => [ '' ],
		limits => [ 3, undef ]);
	for my $precision ('full', 'half')
	{
		$node->safe_psql('postgres', drop_indexes('tinymag') . create_indexes('tinymag', $precision));
		compare_plans($run, "vectors of tiny magnitude, precision $precision", '', @checks);
	}
}

# ---------------------------------------------------------------------------
# 3. Changes: INSERT, UPDATE, DELETE, VACUUM, REINDEX, concurrent builds,
#    transactions, TRUNCATE, DROP INDEX; a second session keeps its cache
#    warm throughout and must notice every change.
# ---------------------------------------------------------------------------
{
	my $name = 'live';
	my $dim = 8;
	create_table(name => $name, dim => $dim, rows => 5000, gen => 'uniform', specials => 1, seed => 0.5);
	# two precisions at once: l2 and cosine half, ip and l1 full
	$node->safe_psql('postgres', qq{
		CREATE INDEX live_l2 ON live USING hybrid (v vector_l2_ops) WITH (precision = 'half');
		CREATE INDEX live_ip ON live USING hybrid (v vector_ip_ops);
		CREATE INDEX live_cos ON live USING hybrid (v vector_cosine_ops) WITH (precision = half);
		CREATE INDEX live_l1 ON live USING hybrid (v vector_l1_ops) WITH (precision = 'full');
	});
	my @checks = knn_checks(
		table => $name,
		queries => [ 'r1', 'row', 'zero' ],
		wheres => [ '', 'f < 100', 'f = 0' ],
		limits => [ 10, 500 ]);
	my $warm = HybridSearchTest::Session->new($node);
	my $warm_run = session_runner($warm);
	my $check_both = sub {
		my ($what) = @_;
		compare_plans($warm_run, "$what (warm cache session)", '', @checks);
		compare_plans($run, "$what (new session)", 'SET hybridsearch.cpu_cache = off;', @checks);
	};
	$check_both->('live: after build');

	my $v = vec_expr('uniform', $dim);
	$node->safe_psql('postgres', qq{
		SELECT setseed(0.51);
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(5001, 5600) i;
		INSERT INTO live SELECT i, (i * 7919) % 1000, NULL FROM generate_series(5601, 5620) i;
		INSERT INTO live SELECT i, (i * 7919) % 1000, array_fill(0, ARRAY[$dim])::vector
			FROM generate_series(5621, 5630) i;
		INSERT INTO live SELECT id + 5630, f, v FROM live WHERE id BETWEEN 1 AND 50;
	});
	$check_both->('live: after INSERT (new, NULL, zero, duplicate vectors)');

	$node->safe_psql('postgres', qq{
		SELECT setseed(0.52);
		UPDATE live SET v = ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, $dim) WHERE id > 0)::float8[]::vector
			WHERE id % 10 = 1;
		UPDATE live SET v = NULL WHERE id % 50 = 2;
		UPDATE live SET v = (SELECT v FROM live WHERE id = 4) WHERE id % 50 = 3;
		UPDATE live SET f = f + 1 WHERE id % 7 = 0;
	});
	$check_both->('live: after UPDATE');

	$node->safe_psql('postgres', 'DELETE FROM live WHERE id % 5 = 2 OR id BETWEEN 100 AND 400');
	$check_both->('live: after DELETE');

	$node->safe_psql('postgres', 'VACUUM live');
	$check_both->('live: after VACUUM');

	# the freed heap slots get new tuples with other vectors: a stale copy
	# would return their old vectors' order, or the rows twice
	$node->safe_psql('postgres', qq{
		SELECT setseed(0.53);
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(10001, 12000) i;
	});
	my $reused = $node->safe_psql('postgres', q{
		SELECT count(*) FROM live WHERE id > 10000 AND ctid < (SELECT max(ctid) FROM live WHERE id <= 10000)});
	cmp_ok($reused, '>', 0, 'live: new rows reuse heap slots freed by VACUUM');
	$check_both->('live: after VACUUM and inserts into the freed slots');

	# a transaction's own uncommitted changes, then rollback
	my $expect_own = $node->safe_psql('postgres',
		'SELECT count(*) FROM generate_series(20001, 20300) i WHERE i % 11 <> 0')
	  + $node->safe_psql('postgres',
		'SELECT count(*) FROM live WHERE id BETWEEN 1 AND 30 AND (20300 + id) % 11 <> 0');
	my ($ok, $out, $err) = $warm->run(qq{
		BEGIN;
		SELECT setseed(0.54);
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(20001, 20300) i;
		INSERT INTO live SELECT 20300 + id, f, v FROM live WHERE id BETWEEN 1 AND 30;
		DELETE FROM live WHERE id % 11 = 0;
		UPDATE live SET v = (SELECT v FROM qvec WHERE tab = 'live' AND name = 'r1') WHERE id % 13 = 0;
	});
	ok($ok, 'live: changes inside an open transaction') or diag($err);
	compare_plans($warm_run, 'live: inside a transaction, its own uncommitted changes', '', @checks);
	($ok, $out, $err) = $warm->run('SELECT count(*) FROM live WHERE id > 20000');
	is($out, $expect_own, 'live: the transaction sees its own inserts and deletes');
	($ok, $out, $err) = $warm->run('ROLLBACK');
	ok($ok, 'live: rollback') or diag($err);
	$check_both->('live: after a rolled back transaction');
	($ok, $out, $err) = $warm->run('SELECT count(*) FROM live WHERE id > 20000');
	is($out, '0', 'live: rolled back rows are gone');

	# a committed transaction's own reads, through a savepoint rollback
	($ok, $out, $err) = $warm->run(qq{
		BEGIN;
		SELECT setseed(0.55);
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(30001, 30100) i;
		SAVEPOINT s;
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(30101, 30200) i;
		ROLLBACK TO SAVEPOINT s;
	});
	ok($ok, 'live: savepoint rolled back inside a transaction') or diag($err);
	compare_plans($warm_run, 'live: inside a transaction after ROLLBACK TO SAVEPOINT', '', @checks);
	($ok, $out, $err) = $warm->run('COMMIT');
	$check_both->('live: after commit');

	$node->safe_psql('postgres', 'VACUUM live; REINDEX INDEX live_l2; REINDEX INDEX live_ip;');
	$check_both->('live: after VACUUM and REINDEX INDEX');

	$node->safe_psql('postgres', 'DELETE FROM live WHERE id % 9 = 4');
	$node->safe_psql('postgres', 'REINDEX TABLE CONCURRENTLY live');
	$check_both->('live: after DELETE and REINDEX TABLE CONCURRENTLY');

	$node->safe_psql('postgres', 'DROP INDEX live_cos; DROP INDEX live_l1;');
	$node->safe_psql('postgres',
		"CREATE INDEX CONCURRENTLY live_cos ON live USING hybrid (v vector_cosine_ops) WITH (precision = 'half')");
	$node->safe_psql('postgres',
		"CREATE INDEX CONCURRENTLY live_l1 ON live USING hybrid (v vector_l1_ops)");
	$check_both->('live: after DROP INDEX and CREATE INDEX CONCURRENTLY');

	# precision changes without a rebuild: the cached copy must follow
	$node->safe_psql('postgres', q{
		ALTER INDEX live_l2 SET (precision = 'full');
		ALTER INDEX live_ip SET (precision = 'half');
		ALTER INDEX live_l1 SET (precision = 'half');
		ALTER INDEX live_cos RESET (precision);
	});
	$check_both->('live: after ALTER INDEX SET (precision)');

	$node->safe_psql('postgres', qq{
		TRUNCATE live;
		SELECT setseed(0.56);
		INSERT INTO live SELECT i, (i * 7919) % 1000, $v FROM generate_series(1, 3000) i;
		INSERT INTO live SELECT i, (i * 7919) % 1000, NULL FROM generate_series(3001, 3010) i;
		INSERT INTO live SELECT id + 3010, f, v FROM live WHERE id <= 20;
	});
	is($node->safe_psql('postgres', 'SELECT count(*) FROM live'), '3030', 'live: TRUNCATE and insert');
	$check_both->('live: after TRUNCATE and INSERT');

	# DROP INDEX: the same query now runs without it, and still answers
	$node->safe_psql('postgres', 'DROP INDEX live_l2');
	($ok, $out, $err) = $warm->run(qq{SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM live ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 5;
		RESET enable_seqscan;});
	unlike($out, qr/Index Scan/, 'live: after DROP INDEX the l2 query plans no index scan');
	my @others = grep { $_->{index} ne 'live_l2' } @checks;
	compare_plans($warm_run, 'live: other indexes after DROP INDEX of one', '', @others);
	$node->safe_psql('postgres', 'CREATE INDEX live_l2 ON live USING hybrid (v)');
	$check_both->('live: index created again under the same name');
	$warm->close;
	$t = lap('changes', $t);
}

# ---------------------------------------------------------------------------
# 4. Dimensions.
# ---------------------------------------------------------------------------
{
	my ($ret, $out, $err);
	for my $op (@OPS)
	{
		($ret, $out, $err) = $node->psql('postgres', qq{
			SET enable_seqscan = off;
			SELECT id FROM coarse3 ORDER BY v $op '[1,2,3,4]' LIMIT 5;});
		like($err, qr/different vector dimensions/, "ORDER BY v $op a 4-dim vector on a 3-dim index: error");
		($ret, $out, $err) = $node->psql('postgres', qq{
			SET enable_indexscan = off; SET enable_bitmapscan = off;
			SELECT id FROM coarse3 ORDER BY v $op '[1,2,3,4]' LIMIT 5;});
		like($err, qr/different vector dimensions/, "... and the same error from a seqscan");
	}
	($ret, $out, $err) = $node->psql('postgres', q{
		SET enable_seqscan = off;
		SELECT id FROM uni16 ORDER BY v <-> '[1,2]' LIMIT 5;});
	like($err, qr/different vector dimensions/, 'ORDER BY a 2-dim vector on a 16-dim untyped column: error');

	$node->safe_psql('postgres', q{
		CREATE TABLE mixed (id int, v vector);
		INSERT INTO mixed VALUES (1, '[1,2,3]'), (2, '[1,2,3,4]'), (3, '[4,5,6]');
	});
	($ret, $out, $err) = $node->psql('postgres',
		'CREATE INDEX mixed_l2 ON mixed USING hybrid (v vector_l2_ops)');
	isnt($ret, 0, 'CREATE INDEX on a column holding mixed dimensions is refused');
	like($err, qr/dimensions/, '... with an error about dimensions');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'mixed_l2'}),
		'0', '... and leaves no index behind');

	$node->safe_psql('postgres', q{
		DELETE FROM mixed WHERE id = 2;
		CREATE INDEX mixed_l2 ON mixed USING hybrid (v vector_l2_ops);
	});
	($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO mixed VALUES (4, '[1,2]')});
	isnt($ret, 0, 'INSERT of a 2-dim vector into an indexed 3-dim untyped column is refused');
	like($err, qr/dimensions/, '... with an error about dimensions');
	($ret, $out, $err) = $node->psql('postgres', q{
		SET enable_seqscan = off;
		SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM mixed ORDER BY v <-> '[4,5,7]' LIMIT 10) s});
	is($out, '3,1', 'the refused row is absent from index scans');
	($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO mixed VALUES (5, '[0,0,1]'), (6, NULL)});
	is($ret, 0, 'INSERT of a 3-dim vector and a NULL still works');

	# an empty untyped index takes the dimension of its first vector
	$node->safe_psql('postgres', q{
		CREATE TABLE fresh (id int, v vector);
		CREATE INDEX fresh_l2 ON fresh USING hybrid (v);
		INSERT INTO fresh VALUES (1, '[1,1]'), (2, NULL), (3, '[0,0]');
	});
	($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO fresh VALUES (4, '[1,1,1]')});
	like($err, qr/dimensions/, 'untyped index fixes its dimensions at the first vector');
	$t = lap('dimensions', $t);
}

# ---------------------------------------------------------------------------
# 5. Scoring exactly only what is returned.
# ---------------------------------------------------------------------------
{
	# A half index's candidates are scored exactly only when they could be
	# returned next: a LIMIT 10 scores about ten rows, not every candidate
	# of the pass (64 in the CPU pass's first pull, 20 from the GPU).  The
	# scan's DEBUG1 line counts them.
	$node->safe_psql('postgres', q{
		CREATE TABLE rescored (id int, v vector(256));
		INSERT INTO rescored SELECT i,
			ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256) WHERE i > 0)::float8[]::vector
			FROM generate_series(1, 5000) i;
		CREATE INDEX rescored_cos ON rescored USING hybrid (v vector_cosine_ops) WITH (precision = half);
	});
	my $query = 'SELECT id FROM rescored ORDER BY v <=> (SELECT v FROM rescored WHERE id = 1) LIMIT 10';
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET enable_seqscan = off; SET client_min_messages = debug1; $query");
	my ($rows, $scored) = $err =~ /hybridsearch scan: .* (\d+) rows, (\d+) scored after a pass/;
	is($rows, 10, 'half index, LIMIT 10: the scan returned 10 rows');
	ok(defined $scored && $scored >= 10 && $scored <= 16,
		'... and scored exactly ' . ($scored // 'an unknown number of') . ' rows, 10 to 16');
	is($out, $node->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_bitmapscan = off; $query"),
		'... the same rows as a sequential scan');
	$t = lap('deferred scoring', $t);
}

note(sprintf("010_exactness total: %.1f s", time - $t_start));
$node->stop;
done_testing();
