# Security: what an unprivileged role can and cannot do.
#  - A role with no superuser, no grants beyond CREATE on one schema, calls
#    every function, aggregate and operator the extension owns (the list is
#    read from pg_depend, so a new object without a call here fails), builds
#    and scans a hybrid index, and verifies it.
#  - It cannot change the settings that pick GPUs, memory limits or fault
#    injection: SET, set_config, ALTER ROLE/DATABASE SET and ALTER SYSTEM
#    are refused (42501, or 55P02 for the sighup settings, which no session
#    can change).
#  - hybridsearch_stats and hybridsearch_index_stats() show nothing about a
#    table it may not read; hybridsearch_verify() is refused for tables it
#    does not own (42501) and runs index expressions as the table's owner
#    even when a superuser calls it.
#  - The GPU worker has no database connection (no pg_stat_activity entry),
#    so it runs no SQL.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'hybridsearch'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE ROLE plain LOGIN;
	CREATE SCHEMA s;
	GRANT USAGE, CREATE ON SCHEMA s TO plain;
	CREATE TABLE secret (id int, v vector(3));
	INSERT INTO secret SELECT n, ARRAY[n, 1, 2]::real[] FROM generate_series(1, 50) n;
	CREATE INDEX secret_idx ON secret USING hybrid (v);
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM secret ORDER BY v <-> '[1,1,1]' LIMIT 3) s;});

# Run $sql as plain; returns (ok, stdout, stderr).
sub as_plain
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET search_path = s, public;\n$sql",
		extra_params => [ '-U', 'plain', '-v', 'VERBOSITY=verbose' ]);
	return ($ret == 0 && $err !~ /ERROR/, $out, $err);
}

is($node->safe_psql('postgres', q{SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
	FROM pg_roles WHERE rolname = 'plain'}), 'f', 'plain has no special attributes');

# ---------------------------------------------------------------------------
# Every function, aggregate and operator, called by plain.
# ---------------------------------------------------------------------------
my $tmp = PostgreSQL::Test::Utils::tempdir;
my %call = (
	'vector_in(cstring,oid,integer)' => q{SELECT vector_in('[1,2]', 0, -1)},
	'vector_out(vector)' => q{SELECT vector_out('[1,2]')},
	'vector_typmod_in(cstring[])' => q{SELECT vector_typmod_in('{3}')},
	'vector_recv(internal,oid,integer)' =>
	  qq{\\copy (SELECT '[1,2]'::vector) TO '$tmp/v.bin' WITH (FORMAT binary)
CREATE TABLE s.recv (v vector);
\\copy s.recv FROM '$tmp/v.bin' WITH (FORMAT binary)
SELECT v FROM s.recv},
	'vector_send(vector)' => q{SELECT vector_send('[1,2]')},
	'l2_distance(vector,vector)' => q{SELECT l2_distance('[1,2]'::vector, '[3,4]')},
	'inner_product(vector,vector)' => q{SELECT inner_product('[1,2]'::vector, '[3,4]')},
	'cosine_distance(vector,vector)' => q{SELECT cosine_distance('[1,2]'::vector, '[3,4]')},
	'l1_distance(vector,vector)' => q{SELECT l1_distance('[1,2]'::vector, '[3,4]')},
	'vector_negative_inner_product(vector,vector)' =>
	  q{SELECT vector_negative_inner_product('[1,2]', '[3,4]')},
	'vector_dims(vector)' => q{SELECT vector_dims('[1,2]'::vector)},
	'vector_norm(vector)' => q{SELECT vector_norm('[3,4]')},
	'l2_normalize(vector)' => q{SELECT l2_normalize('[3,4]'::vector)},
	'subvector(vector,integer,integer)' => q{SELECT subvector('[1,2,3]'::vector, 2, 2)},
	'vector_add(vector,vector)' => q{SELECT vector_add('[1,2]', '[3,4]')},
	'vector_sub(vector,vector)' => q{SELECT vector_sub('[1,2]', '[3,4]')},
	'vector_mul(vector,vector)' => q{SELECT vector_mul('[1,2]', '[3,4]')},
	'vector_concat(vector,vector)' => q{SELECT vector_concat('[1,2]', '[3,4]')},
	(map { ("vector_$_(vector,vector)" => "SELECT vector_$_('[1,2]', '[1,3]')") } qw(lt le eq ne ge gt cmp)),
	'vector_accum(double precision[],vector)' => q{SELECT vector_accum('{0}', '[1,2]')},
	'vector_combine(double precision[],double precision[])' =>
	  q{SELECT vector_combine('{1,1,2}', '{1,3,4}')},
	'vector_avg(double precision[])' => q{SELECT vector_avg('{2,4,6}')},
	'avg(vector)' => q{SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[3,4]')) t(v)},
	'sum(vector)' => q{SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[3,4]')) t(v)},
	'vector(vector,integer,boolean)' => q{SELECT vector('[1,2]', 2, false)},
	'array_to_vector(integer[],integer,boolean)' => q{SELECT array_to_vector('{1,2}'::int[], -1, false)},
	'array_to_vector(real[],integer,boolean)' => q{SELECT array_to_vector('{1,2}'::real[], -1, false)},
	'array_to_vector(double precision[],integer,boolean)' =>
	  q{SELECT array_to_vector('{1,2}'::float8[], -1, false)},
	'array_to_vector(numeric[],integer,boolean)' =>
	  q{SELECT array_to_vector('{1,2}'::numeric[], -1, false)},
	'vector_to_float4(vector,integer,boolean)' => q{SELECT vector_to_float4('[1,2]', -1, false)},
	'vector_l2_squared_distance(vector,vector)' => q{SELECT vector_l2_squared_distance('[1,2]', '[3,4]')},
	'vector_spherical_distance(vector,vector)' => q{SELECT vector_spherical_distance('[1,0]', '[0,1]')},
	'binary_quantize(vector)' => q{SELECT binary_quantize('[1,-2]'::vector)},
	'hamming_distance(bit,bit)' => q{SELECT hamming_distance(B'10', B'11')},
	'jaccard_distance(bit,bit)' => q{SELECT jaccard_distance(B'10', B'11')},
	'halfvec_in(cstring,oid,integer)' => q{SELECT halfvec_in('[1,2]', 0, -1)},
	'halfvec_out(halfvec)' => q{SELECT halfvec_out('[1,2]')},
	'halfvec_typmod_in(cstring[])' => q{SELECT halfvec_typmod_in('{3}')},
	'halfvec_recv(internal,oid,integer)' =>
	  qq{\\copy (SELECT '[1,2]'::halfvec) TO '$tmp/h.bin' WITH (FORMAT binary)
CREATE TABLE s.hrecv (v halfvec);
\\copy s.hrecv FROM '$tmp/h.bin' WITH (FORMAT binary)
SELECT v FROM s.hrecv},
	'halfvec_send(halfvec)' => q{SELECT halfvec_send('[1,2]')},
	(map { ("$_(halfvec,halfvec)" => "SELECT $_('[1,2]'::halfvec, '[3,4]')") }
	  qw(l2_distance inner_product cosine_distance l1_distance halfvec_add halfvec_sub halfvec_mul
	  halfvec_concat halfvec_l2_squared_distance halfvec_negative_inner_product halfvec_spherical_distance)),
	(map { ("halfvec_$_(halfvec,halfvec)" => "SELECT halfvec_$_('[1,2]', '[1,3]')") } qw(lt le eq ne ge gt cmp)),
	'vector_dims(halfvec)' => q{SELECT vector_dims('[1,2]'::halfvec)},
	'l2_norm(halfvec)' => q{SELECT l2_norm('[3,4]'::halfvec)},
	'l2_normalize(halfvec)' => q{SELECT l2_normalize('[3,4]'::halfvec)},
	'binary_quantize(halfvec)' => q{SELECT binary_quantize('[1,-2]'::halfvec)},
	'subvector(halfvec,integer,integer)' => q{SELECT subvector('[1,2,3]'::halfvec, 2, 2)},
	'halfvec_accum(double precision[],halfvec)' => q{SELECT halfvec_accum('{0}', '[1,2]')},
	'halfvec_avg(double precision[])' => q{SELECT halfvec_avg('{2,4,6}')},
	'avg(halfvec)' => q{SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,4]')) t(v)},
	'sum(halfvec)' => q{SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,4]')) t(v)},
	'halfvec(halfvec,integer,boolean)' => q{SELECT halfvec('[1,2]', 2, false)},
	'halfvec_to_vector(halfvec,integer,boolean)' => q{SELECT halfvec_to_vector('[1,2]', -1, false)},
	'vector_to_halfvec(vector,integer,boolean)' => q{SELECT vector_to_halfvec('[1,2]', -1, false)},
	'halfvec_to_float4(halfvec,integer,boolean)' => q{SELECT halfvec_to_float4('[1,2]', -1, false)},
	(map { ("array_to_halfvec($_\[],integer,boolean)" => "SELECT array_to_halfvec('{1,2}'::$_\[], -1, false)") }
	  ('integer', 'real', 'double precision', 'numeric')),
	'sparsevec_in(cstring,oid,integer)' => q{SELECT sparsevec_in('{1:1}/2', 0, -1)},
	'sparsevec_out(sparsevec)' => q{SELECT sparsevec_out('{1:1}/2')},
	'sparsevec_typmod_in(cstring[])' => q{SELECT sparsevec_typmod_in('{3}')},
	'sparsevec_recv(internal,oid,integer)' =>
	  qq{\\copy (SELECT '{1:1}/2'::sparsevec) TO '$tmp/s.bin' WITH (FORMAT binary)
CREATE TABLE s.srecv (v sparsevec);
\\copy s.srecv FROM '$tmp/s.bin' WITH (FORMAT binary)
SELECT v FROM s.srecv},
	'sparsevec_send(sparsevec)' => q{SELECT sparsevec_send('{1:1}/2')},
	(map { ("$_(sparsevec,sparsevec)" => "SELECT $_('{1:1}/2'::sparsevec, '{2:3}/2')") }
	  qw(l2_distance inner_product cosine_distance l1_distance
	  sparsevec_l2_squared_distance sparsevec_negative_inner_product)),
	(map { ("sparsevec_$_(sparsevec,sparsevec)" => "SELECT sparsevec_$_('{1:1}/2', '{2:3}/2')") } qw(lt le eq ne ge gt cmp)),
	'l2_norm(sparsevec)' => q{SELECT l2_norm('{1:3,2:4}/2'::sparsevec)},
	'l2_normalize(sparsevec)' => q{SELECT l2_normalize('{1:3,2:4}/2'::sparsevec)},
	'sparsevec(sparsevec,integer,boolean)' => q{SELECT sparsevec('{1:1}/2', 2, false)},
	'vector_to_sparsevec(vector,integer,boolean)' => q{SELECT vector_to_sparsevec('[1,0]', -1, false)},
	'sparsevec_to_vector(sparsevec,integer,boolean)' => q{SELECT sparsevec_to_vector('{1:1}/2', -1, false)},
	'halfvec_to_sparsevec(halfvec,integer,boolean)' => q{SELECT halfvec_to_sparsevec('[1,0]', -1, false)},
	'sparsevec_to_halfvec(sparsevec,integer,boolean)' => q{SELECT sparsevec_to_halfvec('{1:1}/2', -1, false)},
	(map { ("array_to_sparsevec($_\[],integer,boolean)" => "SELECT array_to_sparsevec('{1,0}'::$_\[], -1, false)") }
	  ('integer', 'real', 'double precision', 'numeric')),
	'hybrid_handler(internal)' => q{CREATE TABLE s.mine (id int, v vector(2));
INSERT INTO s.mine SELECT n, ARRAY[n, 1]::real[] FROM generate_series(1, 20) n;
CREATE INDEX mine_idx ON s.mine USING hybrid (v);
SET enable_seqscan = off;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM s.mine ORDER BY v <-> '[3,1]' LIMIT 3) q},
	'hybridsearch_index_stats(regclass)' => q{SELECT rows FROM hybridsearch_index_stats('s.mine_idx')},
	'hybridsearch_verify(regclass)' => q{SELECT heap_tuples FROM hybridsearch_verify('s.mine_idx')},
	'hybridsearch_gpu_status()' => q{SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()},
	'hybridsearch_prewarm(regclass)' => q{SELECT hybridsearch_prewarm('s.mine_idx')},
	'hybridsearch_search_batch(regclass,vector[],integer)' =>
	  q{SELECT count(*) FROM hybridsearch_search_batch('s.mine_idx', ARRAY['[3,1]'::vector], 3)},
	'hybridsearch_scan_distance(vector,regclass,tid)' => q{SET enable_seqscan = off;
SELECT hybridsearch_scan_distance('[3,1]'::vector, 's.mine_idx', ctid) FROM s.mine ORDER BY v <-> '[3,1]' LIMIT 1},
	(map { ("hybridsearch_scan_distance($_->[0],regclass,tid)" =>
		  "SELECT hybridsearch_scan_distance($_->[1], 's.mine_idx', '(0,1)') IS NULL") }
	  (['halfvec', q{'[3,1]'::halfvec}], ['sparsevec', q{'{1:3}/2'::sparsevec}], ['bit', q{B'10'}])),
	'hybridsearch_batch_stats()' => q{SELECT coalesce(slots_in_use, 0) FROM hybridsearch_batch_stats()},
	'hybridsearch_rrf(bigint[],bigint[],integer)' => q{SELECT count(*) FROM hybridsearch_rrf('{1,2}', '{2,3}')},
	'hybridsearch_sharded_search(anyelement,name,text,vector,integer,text)' =>
	  q{SELECT string_agg(id::text, ',') FROM hybridsearch_sharded_search(NULL::s.mine, 'v', '<->', '[3,1]', 3)},
);
my @functions = split /\n/, $node->safe_psql('postgres', q{
	SELECT p.oid::regprocedure FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'hybridsearch'
	JOIN pg_proc p ON p.oid = d.objid
	WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' ORDER BY p.oid});
cmp_ok(scalar @functions, '>=', 40, 'the extension owns ' . scalar(@functions) . ' functions');
is(join(' ', grep { !exists $call{$_} } @functions), '', 'every function has a call here');
# hybrid_handler's call builds the table the later calls use: run it first
for my $f ('hybrid_handler(internal)', grep { $_ ne 'hybrid_handler(internal)' } @functions)
{
	my ($ok, $out, $err) = as_plain($call{$f} // 'SELECT 1');
	ok($ok && $out ne '', "plain calls $f") or diag($err);
}

# operator and argument type, e.g. "<-> halfvec"
my @operators = split /\n/, $node->safe_psql('postgres', q{
	SELECT o.oprname || ' ' || o.oprleft::regtype FROM pg_depend d
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'hybridsearch'
	JOIN pg_operator o ON o.oid = d.objid
	WHERE d.classid = 'pg_operator'::regclass AND d.deptype = 'e' ORDER BY o.oid});
is(scalar @operators, 40, 'the extension owns 40 operators');
my %operand = (vector => q{'[1,2]'::vector}, halfvec => q{'[1,2]'::halfvec},
	sparsevec => q{'{1:1}/2'::sparsevec}, bit => q{B'10'});
{
	my ($ok, $out, $err) = as_plain(join("\n",
			map { my ($op, $type) = split / /; "SELECT $operand{$type} $op $operand{$type};" } @operators));
	is(scalar(split /\n/, $out), scalar @operators, "plain uses every operator: @operators")
	  or diag($err);
}

# ---------------------------------------------------------------------------
# Settings.
# ---------------------------------------------------------------------------
is($node->safe_psql('postgres', q{
	SELECT string_agg(name || '=' || context, ' ' ORDER BY name) FROM pg_settings
	WHERE name LIKE 'hybridsearch.%'}),
	'hybridsearch.cpu_batching=user hybridsearch.cpu_cache=user hybridsearch.cpu_cache_size=superuser hybridsearch.cpu_threads=user '
	  . 'hybridsearch.device=user hybridsearch.gpu_devices=sighup hybridsearch.gpu_fault=superuser '
	  . 'hybridsearch.gpu_launches_in_flight=sighup '
	  . 'hybridsearch.gpu_memory_limit=sighup hybridsearch.gpu_min_rows=user '
	  . 'hybridsearch.gpu_parts_per_device=sighup hybridsearch.gpu_timeout=superuser '
	  . 'hybridsearch.prewarm=postmaster hybridsearch.reuse_scan_distances=user '
	  . 'hybridsearch.shared_cache_size=postmaster '
	  . 'hybridsearch.vacuum_fault=superuser',
	'which settings a session may change');
my %value = (
	'hybridsearch.cpu_cache_size' => '1', 'hybridsearch.gpu_timeout' => '10',
	'hybridsearch.gpu_fault' => 'kernel_error', 'hybridsearch.gpu_memory_limit' => '1',
	'hybridsearch.gpu_devices' => '1', 'hybridsearch.gpu_parts_per_device' => '2',
	'hybridsearch.gpu_launches_in_flight' => '1',
	'hybridsearch.shared_cache_size' => '1', 'hybridsearch.prewarm' => 'postgres:s.mine_idx',
	'hybridsearch.vacuum_fault' => 'after_move');
for my $name (sort keys %value)
{
	my $sighup = $name =~ /gpu_memory_limit|gpu_devices|gpu_parts_per_device|gpu_launches_in_flight|shared_cache_size|prewarm/;
	my $code = $sighup ? '55P02' : '42501';
	for my $how ("SET $name = '$value{$name}'",
		"SELECT set_config('$name', '$value{$name}', false)",
		"ALTER ROLE plain SET $name = '$value{$name}'")
	{
		my ($ok, $out, $err) = as_plain($how);
		like($err, qr/ERROR:  $code: /, "plain: $how is refused ($code)");
	}
	for my $how ("ALTER DATABASE postgres SET $name = '$value{$name}'",
		"ALTER SYSTEM SET $name = '$value{$name}'")
	{
		my ($ok, $out, $err) = as_plain($how);
		like($err, qr/ERROR:  42501: /, "plain: $how is refused (42501)");
	}
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_db_role_setting}), '0',
	'no per-role or per-database setting was stored');

# ---------------------------------------------------------------------------
# Statistics and verification of a table plain may not read.
# ---------------------------------------------------------------------------
{
	my ($ok, $out, $err) = as_plain(q{SELECT string_agg(index::text, ',' ORDER BY index::text) FROM hybridsearch_stats});
	is($out, 'mine_idx', 'hybridsearch_stats lists only the index of a table plain may read');
	($ok, $out, $err) = as_plain(q{SELECT * FROM hybridsearch_index_stats('public.secret_idx')});
	like($err, qr/ERROR:  42501: permission denied for table secret/,
		'hybridsearch_index_stats of an unreadable table is refused');
	($ok, $out, $err) = as_plain(q{SELECT * FROM hybridsearch_verify('public.secret_idx')});
	like($err, qr/ERROR:  42501: must be owner of table secret/,
		'hybridsearch_verify of a table plain does not own is refused');
	$node->safe_psql('postgres', 'GRANT SELECT ON secret TO plain');
	($ok, $out, $err) = as_plain(q{SELECT * FROM hybridsearch_verify('public.secret_idx')});
	like($err, qr/ERROR:  42501: must be owner of table secret/,
		'... also when plain may read the table');
	($ok, $out, $err) = as_plain(q{SELECT count(*) FROM hybridsearch_stats WHERE index = 'public.secret_idx'::regclass});
	is($out, '1', 'with SELECT granted, hybridsearch_stats shows the index');
	# a refused verify took no lock: it was checked before locking
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_locks WHERE relation = 'secret'::regclass}),
		'0', 'no lock on the table is left');
}

# A superuser verifying plain's index runs plain's index expression as plain.
{
	my ($ok, $out, $err) = as_plain(q{
		CREATE FUNCTION s.tattle(v vector) RETURNS vector LANGUAGE plpgsql IMMUTABLE AS $$
		BEGIN
			RAISE NOTICE 'tattle: run by %', current_user;
			RETURN v;
		END $$;
		CREATE INDEX mine_expr ON s.mine USING hybrid (s.tattle(v));});
	ok($ok, 'plain builds an index on an expression that says who runs it') or diag($err);
	my $ret;
	($ret, $out, $err) = $node->psql('postgres', q{SELECT heap_tuples FROM hybridsearch_verify('s.mine_expr')});
	is($out, '20', 'a superuser verifies plain\'s expression index');
	my %runners = map { $_ => 1 } ($err =~ /NOTICE:  tattle: run by (\w+)/g);
	is(join(',', sort keys %runners), 'plain', '... and the expression runs as the table owner, plain');
}

# ---------------------------------------------------------------------------
# The GPU worker: no database, no query.
# ---------------------------------------------------------------------------
ok($node->poll_query_until('postgres', q{SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()}),
	'the GPU worker runs');
# It never connects to a database (no BGWORKER_BACKEND_DATABASE_CONNECTION),
# so it has no pg_stat_activity entry and cannot run SQL
my $worker = $node->safe_psql('postgres', 'SELECT worker_pid FROM hybridsearch_gpu_status()');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $worker"),
	'0', 'the GPU worker has no pg_stat_activity entry: no database, user or query');
SKIP:
{
	skip 'no /proc', 1 unless -r "/proc/$worker/cmdline";
	like(slurp_file("/proc/$worker/cmdline"), qr/hybridsearch GPU worker/,
		"process $worker is the GPU worker");
}

$node->stop;
done_testing();
