# Common helpers of the TAP tests: running SQL
# through psql (one-off or in a HybridSearchTest::Session that stays open)
# and comparing an index scan with a sequential scan of the same queries.
# A test loads it with
#   use FindBin;
#   use lib "$FindBin::RealBin/../lib";
#   use HybridSearchTest;
package HybridSearchTest;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();
use Test::More;
use Time::HiRes qw(time);

our @EXPORT = qw(
  %OPCLASS %SUFFIX @OPS
  script_file node_runner session_runner
  qexpr knn_sql knn_checks
  plan_script parse_sections parse_rows fmt_rows
  check_problems compare_rows compare_plans
  wait_for_restart verify_indexes knn_check_sql
  preloaded_node items_check_script writer_scripts lap);

# Operator => operator class, and the suffix of the index names.
our %OPCLASS = (
	'<->' => 'vector_l2_ops',
	'<#>' => 'vector_ip_ops',
	'<=>' => 'vector_cosine_ops',
	'<+>' => 'vector_l1_ops');
our %SUFFIX = (
	'<->' => 'l2', '<#>' => 'ip', '<=>' => 'cos', '<+>' => 'l1',
	'<~>' => 'ham', '<%>' => 'jac');
our @OPS = ('<->', '<#>', '<=>', '<+>');

# ---------------------------------------------------------------------------
# Running SQL.  Scripts go to psql through files (\i, -f): large scripts
# written to a pipe can make IPC::Run fail with EAGAIN.
# ---------------------------------------------------------------------------
my $script_count = 0;

sub script_file
{
	my ($node, $sql) = @_;
	my $file = $node->basedir . '/script_' . ++$script_count . '.sql';
	PostgreSQL::Test::Utils::append_to_file($file, $sql);
	return $file;
}

# A psql session that stays open, so that a backend's cached dense copies
# live across statements (IPC::Run; quiet, unlike BackgroundPsql's notes).
{

	package HybridSearchTest::Session;

	sub new
	{
		my ($class, $node) = @_;
		my $self = bless { node => $node, in => '', out => '', err => '', n => 0 }, $class;
		$self->{timeout} =
		  IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
		$self->{h} = IPC::Run::start(
			[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'), '-f', '-' ],
			'<', \$self->{in}, '>', \$self->{out}, '2>', \$self->{err},
			$self->{timeout});
		return $self;
	}

	# Run a script; returns (ok, stdout, stderr), ok meaning no error (a
	# WARNING, say of a GPU fallback, is no failure).
	sub run
	{
		my ($self, $sql) = @_;
		my $n = ++$self->{n};
		my $banner = "\@\@SESSION_END $n";
		my $file = HybridSearchTest::script_file($self->{node}, $sql);
		$self->{out} = '';
		$self->{err} = '';
		$self->{timeout}->start($PostgreSQL::Test::Utils::timeout_default);
		$self->{in} .= "\\i $file\n\\echo '$banner'\n\\warn '$banner'\n";
		$self->{h}->pump
		  until $self->{out} =~ /\Q$banner\E\n/ && $self->{err} =~ /\Q$banner\E\n/;
		my ($out, $err) = ($self->{out}, $self->{err});
		$out =~ s/\Q$banner\E\n//;
		$err =~ s/\Q$banner\E\n//;
		chomp $out;
		return ($err !~ /^(?:psql:\S+: )?(?:ERROR|FATAL|PANIC):/m, $out, $err);
	}

	# Send a script and return at once.
	sub send
	{
		my ($self, $sql) = @_;
		my $file = HybridSearchTest::script_file($self->{node}, $sql);
		$self->{in} .= "\\i $file\n";
		$self->{h}->pump_nb while length $self->{in};
	}

	sub close
	{
		my ($self) = @_;
		$self->{in} .= "\\q\n";
		$self->{h}->finish;
	}
}

# Run a script in a new session; returns (ok, stdout, stderr).
sub node_runner
{
	my ($node) = @_;
	return sub {
		my $file = script_file($node, $_[0]);
		my ($out, $err) = ('', '');
		my $ok = IPC::Run::run(
			[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $file ],
			'>', \$out, '2>', \$err,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		chomp $out;
		return ($ok && $err !~ /^(?:psql:\S+: )?(?:ERROR|FATAL|PANIC):/m, $out, $err);
	};
}

sub session_runner
{
	my ($session) = @_;
	return sub { return $session->run($_[0]); };
}

# ---------------------------------------------------------------------------
# Comparison of the two plans.
# ---------------------------------------------------------------------------

# The query vector named $name of table $table, as an expression; cast to
# $type when given (a qvec whose v holds text, for other types than vector).
sub qexpr
{
	my ($table, $name, $type) = @_;
	my $q = "(SELECT v FROM qvec WHERE tab = '$table' AND name = '$name')";
	return defined $type ? "${q}::$type" : $q;
}

# The k-NN query, selecting id and distance.
sub knn_sql
{
	my ($table, $op, $q, $where, $limit) = @_;
	my $sql = "SELECT id, v $op $q FROM $table";
	$sql .= " WHERE $where" if $where ne '';
	$sql .= " ORDER BY v $op $q";
	$sql .= " LIMIT $limit" if defined $limit;
	return $sql;
}

# Checks for every combination of operators, query vectors, filters, limits.
# The index used for operator $op is "<index_prefix>_<suffix>"; qtype casts
# the query vectors (see qexpr).
sub knn_checks
{
	my (%a) = @_;
	my @checks;
	my $prefix = $a{index_prefix} // $a{table};
	for my $op (@{ $a{ops} // \@OPS })
	{
		for my $qname (@{ $a{queries} })
		{
			for my $where (@{ $a{wheres} })
			{
				for my $limit (@{ $a{limits} })
				{
					my $q = qexpr($a{qtable} // $a{table}, $qname, $a{qtype});
					push @checks,
					  {
						name => "$a{table} v $op $qname"
						  . ($where ne '' ? " WHERE $where" : '')
						  . (defined $limit ? " LIMIT $limit" : ''),
						sql => knn_sql($a{table}, $op, $q, $where, $limit),
						index => "${prefix}_$SUFFIX{$op}",
						limit => $limit,
					  };
				}
			}
		}
	}
	return @checks;
}

sub plan_script
{
	my ($setup, $checks) = @_;
	my $s = "SET client_min_messages = warning;\nSET extra_float_digits = 3;\n";
	$s .= "$setup\n" if defined $setup && $setup ne '';
	for my $i (0 .. $#$checks)
	{
		my $q = $checks->[$i]{sql};
		$s .= "SET enable_seqscan = off; SET enable_indexscan = on; SET enable_bitmapscan = off;\n";
		$s .= "\\echo '\@\@EI $i'\nEXPLAIN (COSTS OFF) $q;\n";
		$s .= "\\echo '\@\@I $i'\n$q;\n";
		$s .= "SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off;\n";
		$s .= "\\echo '\@\@ES $i'\nEXPLAIN (COSTS OFF) $q;\n";
		$s .= "\\echo '\@\@S $i'\n$q;\n";
	}
	$s .= "RESET enable_seqscan; RESET enable_indexscan; RESET enable_bitmapscan;\n";
	return $s;
}

sub parse_sections
{
	my ($out) = @_;
	my (%sec, $cur);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^\@\@(\w+) (\d+)$/)
		{
			$cur = "$1 $2";
			$sec{$cur} = [];
			next;
		}
		push @{ $sec{$cur} }, $line if defined $cur;
	}
	return \%sec;
}

sub parse_rows
{
	my ($lines) = @_;
	return [
		map {
			my ($id, $d) = split /\|/, $_, -1;
			$d = 'NULL' if !defined $d || $d eq '';
			$d = '0' if $d eq '-0';    # -0 and 0 are equal distances
			[ $id, $d ]
		} @$lines
	];
}

sub fmt_rows
{
	my ($rows, $from, $to) = @_;
	$from = 0 if $from < 0;
	$to = $#$rows if $to > $#$rows;
	return join(' ', map { "$rows->[$_][0]:$rows->[$_][1]" } $from .. $to);
}

# Problems of one check: empty when the index scan answered like the seqscan.
sub check_problems
{
	my ($check, $sec, $i) = @_;
	my @p;
	my $ei = join("\n", @{ $sec->{"EI $i"} // [] });
	my $es = join("\n", @{ $sec->{"ES $i"} // [] });
	push @p, "index plan does not use $check->{index}:\n$ei"
	  unless $ei =~ /Index Scan using \Q$check->{index}\E on /;
	push @p, "sequential plan uses an index:\n$es"
	  if $es =~ /Index Scan/ || $es eq '';
	return @p unless defined $sec->{"I $i"} && defined $sec->{"S $i"};
	return (@p, compare_rows(parse_rows($sec->{"I $i"}), parse_rows($sec->{"S $i"}), $check->{limit}));
}

# Problems of two results of one query, "index" and "seqscan" (rows of
# [id, distance]): empty when they are the same up to the order of ties.
sub compare_rows
{
	my ($ir, $sr, $limit, $names) = @_;
	my ($ni, $ns) = @{ $names // [ 'index', 'seqscan' ] };
	my @p;
	push @p, sprintf("row count: $ni %d, $ns %d", scalar @$ir, scalar @$sr)
	  if @$ir != @$sr;
	my $n = @$ir < @$sr ? scalar @$ir : scalar @$sr;
	for my $k (0 .. $n - 1)
	{
		next if $ir->[$k][1] eq $sr->[$k][1];
		push @p,
		  "distances differ from position $k (id:distance):\n"
		  . "  $ni: " . fmt_rows($ir, $k - 2, $k + 3) . "\n"
		  . "  $ns: " . fmt_rows($sr, $k - 2, $k + 3);
		last;
	}
	my %seen;
	for my $r (@$ir)
	{
		push @p, "$ni returned id $r->[0] twice" if $seen{ $r->[0] }++;
	}
	return @p if @p;

	# ids per distinct distance; the last group may be cut by the LIMIT
	my $truncated = defined $limit && @$sr == $limit;
	my $start = 0;
	while ($start < @$sr)
	{
		my $end = $start;
		$end++ while $end + 1 < @$sr && $sr->[ $end + 1 ][1] eq $sr->[$start][1];
		if (!($truncated && $end == $#$sr))
		{
			my $ids_i = join(',', sort { $a <=> $b } map { $ir->[$_][0] } $start .. $end);
			my $ids_s = join(',', sort { $a <=> $b } map { $sr->[$_][0] } $start .. $end);
			push @p, "ids of distance $sr->[$start][1] differ: $ni {$ids_i}, $ns {$ids_s}"
			  if $ids_i ne $ids_s;
		}
		$start = $end + 1;
	}
	return @p;
}

# Run the checks through $run in one session after $setup; one assertion.
sub compare_plans
{
	my ($run, $label, $setup, @checks) = @_;
	# failures are reported at the line of the test that called us
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($ok, $out, $err) = $run->(plan_script($setup, \@checks));
	my $sec = parse_sections($out);
	my @failures;
	for my $i (0 .. $#checks)
	{
		my @p = check_problems($checks[$i], $sec, $i);
		push @failures, "$checks[$i]{name}:\n  " . join("\n  ", @p) if @p;
	}
	my $pass = ok($ok && !@failures,
		"$label: index scan equals seqscan (" . scalar(@checks) . " queries)");
	if (!$pass)
	{
		diag("psql stderr: $err") unless $ok;
		diag(scalar(@failures) . " of " . scalar(@checks) . " queries differ");
		diag($_) for @failures[ 0 .. ($#failures < 7 ? $#failures : 7) ];
	}
	return $pass;
}

# Wait until $node accepts connections again after a crash; true if it does.
# psql refused during recovery may exit before it reads the query from its
# standard input, and IPC::Run then dies of the broken pipe: that is a "not
# yet" too.
sub wait_for_restart
{
	my ($node) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my ($ret, $out) = eval { $node->psql('postgres', 'SELECT pg_is_in_recovery()') };
		return 1 if defined $ret && $ret == 0 && $out eq 'f';
		Time::HiRes::usleep(100_000);
	}
	return 0;
}

# hybridsearch_verify() of each index passes; one assertion.
sub verify_indexes
{
	my ($node, $label, @indexes) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $sql = join('', map { "SELECT * FROM hybridsearch_verify('$_');\n" } @indexes);
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return ok($ret == 0 && $err eq '', "$label: hybridsearch_verify passes for @indexes")
	  || diag($err);
}

# SQL creating knn_check(tab, op, q, lim, flt): one k-NN query on table tab
# (column v, filter flt) through its index and through a seqscan in the same
# snapshot; raises an error if the index is not used or the answers differ,
# else returns the row count.  For concurrent loads (pgbench scripts).  q is
# a vector, or of type $type when given (one overload per type).
sub knn_check_sql
{
	my ($type) = @_;
	my $sql = <<'SQL';
-- One k-NN query through the index and through a seqscan in the same
-- snapshot; raises an error if the plans differ in plan shape or answer.
CREATE FUNCTION knn_check(tab text, op text, q vector, lim int, flt text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	query text := format('SELECT array_agg(id), array_agg(d) FROM '
		'(SELECT id, v %s $1 AS d FROM %I WHERE %s ORDER BY v %s $1 LIMIT %s) s',
		op, tab, flt, op, lim);
	plan text := '';
	line text;
	id_i bigint[]; d_i float8[];
	id_s bigint[]; d_s float8[];
	n int;
	k int;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query USING q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using ' || tab || '_%' THEN
		RAISE EXCEPTION 'knn_check: no index scan for %: %', query, plan;
	END IF;
	EXECUTE query INTO id_i, d_i USING q;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE query INTO id_s, d_s USING q;
	PERFORM set_config('enable_indexscan', 'on', true);
	IF d_i IS DISTINCT FROM d_s THEN
		RAISE EXCEPTION 'knn_check: distances differ for % (q = %): index % seqscan %',
			query, q, d_i, d_s;
	END IF;
	-- the same ids, except in the last group of ties cut by the LIMIT
	n := coalesce(array_length(d_s, 1), 0);
	k := n;
	IF n = lim THEN
		WHILE k > 0 AND d_s[k] IS NOT DISTINCT FROM d_s[n] LOOP
			k := k - 1;
		END LOOP;
	END IF;
	IF (SELECT array_agg(x ORDER BY x) FROM unnest(id_i[1:k]) x)
		IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(id_s[1:k]) x)
		OR (SELECT count(DISTINCT x) FROM unnest(id_i) x) <> n THEN
		RAISE EXCEPTION 'knn_check: ids differ for % (q = %): index % seqscan %',
			query, q, id_i, id_s;
	END IF;
	RETURN n;
END
$$;
SQL
	$sql =~ s/q vector,/q $type,/ if defined $type;
	return $sql;
}

# A new node with the library preloaded, 128 MB of shared copies, no
# parallel workers and no JIT, and the settings in $conf, which come after
# those and so override them; started.
sub preloaded_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 128MB
max_parallel_workers_per_gather = 0
jit = off
$conf
});
	$node->start;
	return $node;
}

# A pgbench script checking (knn_check) the four metrics' indexes of table
# items (id, f, v) in one snapshot: LIMIT random(1, lim), the cosine query
# the vector of a random id of 1..ids (or q where none), filtered by
# cos_where; extra, more checks in the same transaction.
sub items_check_script
{
	my (%a) = @_;
	my $extra = $a{extra} // '';
	return qq{
\\set lim random(1, $a{lim})
\\set id random(1, $a{ids})
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT knn_check('items', '<->', $a{q}, :lim, 'true');
SELECT knn_check('items', '<=>', coalesce((SELECT v FROM items WHERE id = :id), $a{q}), :lim, '$a{cos_where}');
SELECT knn_check('items', '<#>', $a{q}, :lim, 'f % 10 = 3');
SELECT knn_check('items', '<+>', $a{q}, :lim, 'true');
${extra}COMMIT;
};
}

# pgbench scripts (name@weight => text) that write to table items (id, f,
# v) beside checked queries: inserts (a NULL vector where f < 10), updates
# of ids 1..ids and deletes of ids 1..delete_ids; q is a random vector
# expression, inserts, updates and deletes their weights.
sub writer_scripts
{
	my (%a) = @_;
	return (
		"insert\@$a{inserts}" => qq{
\\set f random(0, 999)
INSERT INTO items SELECT nextval('ids'), :f, CASE WHEN :f < 10 THEN NULL ELSE $a{q} END;
},
		"update\@$a{updates}" => qq{
\\set id random(1, $a{ids})
UPDATE items SET v = $a{q} WHERE id = :id;
},
		"delete\@$a{deletes}" => qq{
\\set id random(1, $a{delete_ids})
DELETE FROM items WHERE id = :id;
});
}

# Note the time since $since; returns now.
sub lap
{
	my ($what, $since) = @_;
	note(sprintf("%s: %.1f s", $what, time - $since));
	return time;
}

1;
