# Faults: a damaged index, killed processes, tight memory.
#  1. Bytes of an index overwritten on disk (server stopped): hybridsearch_verify
#     reports each kind of damage with the block, offset and heap TID, and
#     passes again once the original bytes are back.
#  2. SIGKILL of a backend in the middle of CREATE INDEX (gone after the
#     restart), CREATE INDEX CONCURRENTLY (left invalid, REINDEX repairs it)
#     and VACUUM (in its index phase, some pages' entries marked dead): the
#     postmaster restarts every backend; afterwards hybridsearch_verify passes
#     and index scans answer exactly like sequential scans.  The builds are
#     slowed by an index expression that sleeps when a setting asks it to,
#     VACUUM by its cost delay.  (020 kills backends during inserts.)
#  3. SIGKILL of the GPU worker (it runs with the library preloaded, with or
#     without a GPU): the cluster restarts, the worker comes back, scans stay
#     exact.
#  4. Tight memory: maintenance_work_mem = 1MB for CREATE INDEX and VACUUM,
#     hybridsearch.shared_cache_size = 2MB (copies evicted between scans) and 0
#     (private copies of at most 1MB, also evicted),
#     hybridsearch.gpu_memory_limit = 1MB with a 2 MB index: every answer
#     exact, the GPU path falls back with a WARNING.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;

my $t_start = time;

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
restart_after_crash = on
autovacuum = off
max_parallel_workers_per_gather = 0
max_parallel_maintenance_workers = 0
jit = off
});
$node->start;
my $run = node_runner($node);

my $v16 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 16) WHERE n > 0)::float8[]::vector';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE qvec (tab text, name text, v vector);
	-- returns its argument; sleeps 2 ms first when faults.slow is on
	CREATE FUNCTION fault_vec(v vector) RETURNS vector LANGUAGE plpgsql IMMUTABLE AS \$\$
	BEGIN
		IF current_setting('faults.slow', true) = 'on' THEN
			PERFORM pg_sleep(0.002);
		END IF;
		RETURN v;
	END
	\$\$;
	SELECT setseed(0.7);
	CREATE TABLE items (id int, f int, v vector(16));
	INSERT INTO items SELECT n, n % 100, CASE WHEN n % 97 = 0 THEN NULL ELSE $v16 END
		FROM generate_series(1, 5000) n;
	CREATE VIEW items_fault AS SELECT id, f, fault_vec(v) AS v FROM items;
	INSERT INTO qvec SELECT 'items', 'r1', $v16 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'items', 'row', v FROM items WHERE id = 7;
	INSERT INTO qvec SELECT 'items_fault', name, v FROM qvec WHERE tab = 'items';
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops) WITH (precision = half);
});

sub items_checks
{
	my (%a) = @_;
	return knn_checks(
		table => 'items',
		ops => [ '<->', '<=>' ],
		queries => [ 'r1', 'row' ],
		wheres => [ '', 'f < 10' ],
		limits => [ 10, undef ],
		%a);
}

# ---------------------------------------------------------------------------
# 1. Damage on disk, one kind at a time.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	CREATE TABLE dmg (id int, v vector(4));
	INSERT INTO dmg SELECT n, ARRAY[n, n % 7, n % 11, 1]::real[] FROM generate_series(1, 300) n;
	CREATE INDEX dmg_l2 ON dmg USING hybrid (v);
	DELETE FROM dmg WHERE id = 10;	-- its entry stays live until VACUUM
	CHECKPOINT;
});
verify_indexes($node, 'damage: before', 'dmg_l2');
my $dmg_file = $node->data_dir . '/'
  . $node->safe_psql('postgres', "SELECT pg_relation_filepath('dmg_l2')");
my $dmg_blocks = $node->safe_psql('postgres', "SELECT pg_relation_size('dmg_l2') / 8192");
cmp_ok($dmg_blocks, '>=', 3, 'damage: the index has entries in more than one stream page');

# Byte offsets in the file: the metapage's fields, and entry k of the stream
# (4 dimensions: 12 bytes of header and padding, 16 of values, 28 in all;
# 8168 stream bytes per page after a 24-byte page header).
my %meta_at = (magic => 24, dim => 24 + 8, dead_entries => 24 + 32);
sub entry_at
{
	my ($k, $field) = @_;
	my %field_at = (tid => 0, flags => 6, dim => 8, value0 => 12);
	my $pos = $k * 28 + $field_at{$field};
	return 8192 * (1 + int($pos / 8168)) + 24 + $pos % 8168;
}

sub read_bytes
{
	my ($at, $len) = @_;
	open(my $fh, '<:raw', $dmg_file) or die "open $dmg_file: $!";
	seek($fh, $at, 0) or die;
	read($fh, my $buf, $len) == $len or die "short read";
	close $fh;
	return $buf;
}

sub write_bytes
{
	my ($at, $bytes) = @_;
	open(my $fh, '+<:raw', $dmg_file) or die "open $dmg_file: $!";
	seek($fh, $at, 0) or die;
	print $fh $bytes or die;
	close $fh or die;
}

# Apply the patches (offset => bytes) with the server stopped, check that
# hybridsearch_verify reports $expect, restore the bytes, check it passes.
sub damage
{
	my ($label, $expect, %patch) = @_;
	$node->stop;
	my %orig = map { $_ => read_bytes($_, length $patch{$_}) } keys %patch;
	write_bytes($_, $patch{$_}) for keys %patch;
	$node->start;
	my ($ret, $out, $err) = $node->psql('postgres', q{
		\set VERBOSITY verbose
		SELECT * FROM hybridsearch_verify('dmg_l2')});
	like($err, qr/ERROR:  XX002: hybrid index "dmg_l2" (?:is corrupted: )?$expect/,
		"damage: $label is reported");
	$node->stop;
	write_bytes($_, $orig{$_}) for keys %orig;
	$node->start;
	verify_indexes($node, "damage: $label undone", 'dmg_l2');
}

damage('a wrong magic number', qr/the metapage has magic 0x58594252/,
	$meta_at{magic} => pack('V', 0x58594252));
damage('a dimension count other than the column\'s', qr/the metapage gives 5 dimensions, the column's type 4/,
	$meta_at{dim} => pack('l<', 5));
damage('a changed vector value', qr/the entry at block 1, offset 24 holds another vector than heap tuple \(0,1\)/,
	entry_at(0, 'value0') => pack('f<', 42.5));
damage('a value in the second stream page',
	qr/the entry at block 2, offset \d+ holds another vector than heap tuple \(\d+,\d+\)/,
	entry_at(295, 'value0') => pack('f<', -1));
damage('two live entries for one heap tuple',
	qr/the live entries at block 1, offset 136 and at block 1, offset 164 both point to heap TID \(0,5\)/,
	entry_at(5, 'tid') => read_bytes(entry_at(4, 'tid'), 6));
damage('a dead flag the metapage does not count',
	qr/the stream holds 300 entries, 1 dead and 0 live NULL, the metapage counts 300, 0 and 0/,
	entry_at(3, 'flags') => "\x01");
damage('a live heap tuple without a live entry',
	qr/heap tuple \(0,4\) of table "dmg" has no live entry/,
	entry_at(3, 'flags') => "\x01", $meta_at{dead_entries} => pack('q<', 1));
damage('an entry header running past the stream end',
	qr/has a malformed entry at block 1, offset 24 \(stream position 0\)/,
	entry_at(0, 'dim') => pack('v', 15000));
damage('an entry pointing past the table',
	qr/the live entry at block 1, offset 276 points to heap TID \(999,10\), a block beyond the table's \d+/,
	entry_at(9, 'tid') => pack('vvv', 0, 999, 10));
damage('unknown flags', qr/the entry at block 1, offset 24 has flags 0x40/,
	entry_at(0, 'flags') => "\x40");

# ---------------------------------------------------------------------------
# 2. SIGKILL of a backend during CREATE INDEX, CREATE INDEX CONCURRENTLY,
#    VACUUM.
# ---------------------------------------------------------------------------

# Start $sql in a session of its own with faults.slow on; wait until the
# backend runs it and $ready holds, then $delay seconds more; kill it with
# SIGKILL and wait for the restart.
sub kill_during
{
	my ($label, $sql, $ready, $delay) = @_;
	my $s = HybridSearchTest::Session->new($node);
	my ($ok, $pid, $err) = $s->run('SELECT pg_backend_pid()');
	die "no backend pid: $err" unless $ok && $pid =~ /^\d+$/;
	$s->send("SET faults.slow = on;\n$sql\n");
	$ready =~ s/\$pid/$pid/g;
	ok($node->poll_query_until('postgres', $ready), "$label: under way");
	usleep(($delay // 0) * 1_000_000);
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "$label: SIGKILL to backend $pid");
	ok($node->wait_for_log(qr/\(PID $pid\) was terminated by signal 9/, $log_offset),
		"$label: the server log shows the crash");
	ok(wait_for_restart($node), "$label: the server is back after crash recovery");
	eval { $s->{h}->kill_kill; };
}

my $t = time;
my $slow_build = q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE pid = $pid AND wait_event = 'PgSleep' AND query LIKE 'CREATE INDEX%'};
kill_during('CREATE INDEX',
	'CREATE INDEX items_fault_l2 ON items USING hybrid (fault_vec(v));', $slow_build);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_fault_l2'}),
	'0', 'CREATE INDEX: the killed build left no index');
$node->safe_psql('postgres', q{
	CREATE INDEX items_fault_l2 ON items USING hybrid (fault_vec(v));
	CREATE INDEX items_fault_cos ON items USING hybrid (fault_vec(v) vector_cosine_ops);});
verify_indexes($node, 'CREATE INDEX after the crash', qw(items_l2 items_cos items_fault_l2 items_fault_cos));
compare_plans($run, 'CREATE INDEX after the crash',
	'', items_checks(table => 'items_fault', index_prefix => 'items_fault'));
$node->safe_psql('postgres', 'DROP INDEX items_fault_l2, items_fault_cos');

kill_during('CREATE INDEX CONCURRENTLY',
	'CREATE INDEX CONCURRENTLY items_cic_l2 ON items USING hybrid (fault_vec(v));', $slow_build);
is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_cic_l2'::regclass}),
	'f', 'CREATE INDEX CONCURRENTLY: the killed build left an invalid index');
my ($ret, $out, $err) = $node->psql('postgres', q{
	\set VERBOSITY verbose
	SELECT * FROM hybridsearch_verify('items_cic_l2')});
like($err, qr/ERROR:  55000: hybrid index "items_cic_l2" is not valid/,
	'CREATE INDEX CONCURRENTLY: hybridsearch_verify reports the index invalid');
$node->safe_psql('postgres', q{
	REINDEX INDEX items_cic_l2;
	CREATE INDEX items_cic_cos ON items USING hybrid (fault_vec(v) vector_cosine_ops);});
verify_indexes($node, 'CREATE INDEX CONCURRENTLY: after REINDEX', qw(items_cic_l2 items_cic_cos));
compare_plans($run, 'CREATE INDEX CONCURRENTLY: after REINDEX',
	'', items_checks(table => 'items_fault', index_prefix => 'items_cic'));
$node->safe_psql('postgres', 'DROP INDEX items_cic_l2, items_cic_cos');
$t = lap('kills during builds', $t);

# VACUUM, slowed by its cost delay, killed in its index phase: pages of the
# index are marked, others not.  Flags and the metapage's counters agree.
my $deleted = $node->safe_psql('postgres', q{
	WITH d AS (DELETE FROM items WHERE id % 3 = 0 RETURNING 1) SELECT count(*) FROM d});
kill_during('VACUUM',
	'SET vacuum_cost_delay = 10; SET vacuum_cost_limit = 1; VACUUM items;',
	q{SELECT count(*) = 1 FROM pg_stat_progress_vacuum WHERE pid = $pid AND phase = 'vacuuming indexes'},
	0.3);
verify_indexes($node, 'VACUUM killed', qw(items_l2 items_cos));
note('VACUUM killed: entries marked dead before the kill: '
	  . ($node->psql('postgres', q{SELECT dead_entries FROM hybridsearch_verify('items_l2')}))[1]
	  . " of $deleted");
compare_plans($run, 'VACUUM killed', '', items_checks());
$node->safe_psql('postgres', 'VACUUM items');
verify_indexes($node, 'VACUUM killed, then run again', qw(items_l2 items_cos));
# the second VACUUM also compacts: dead entries are moved over or cut off
is($node->safe_psql('postgres', q{
	SELECT live_entries = (SELECT count(*) FROM items) FROM hybridsearch_verify('items_l2')}),
	't', 'VACUUM killed, then run again: one live entry per row, none for a deleted row');
is($node->safe_psql('postgres', q{
	SELECT s.rows = (SELECT count(v) FROM items) AND s.null_rows = (SELECT count(*) - count(v) FROM items)
	FROM hybridsearch_index_stats('items_l2') s}),
	't', 'VACUUM killed, then run again: hybridsearch_index_stats counts the rows');
compare_plans($run, 'VACUUM killed, then run again', '', items_checks());
$t = lap('kill during VACUUM', $t);

# ---------------------------------------------------------------------------
# 3. SIGKILL of the GPU worker.
# ---------------------------------------------------------------------------
ok($node->poll_query_until('postgres', q{SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()}),
	'GPU worker: runs');
my $worker = $node->safe_psql('postgres', 'SELECT worker_pid FROM hybridsearch_gpu_status()');
my $log_offset = -s $node->logfile;
is(kill('KILL', $worker), 1, "GPU worker: SIGKILL to $worker");
ok($node->wait_for_log(qr/\(PID $worker\) was terminated by signal 9/, $log_offset),
	'GPU worker: the server log shows the crash');
ok(wait_for_restart($node), 'GPU worker: the server is back after crash recovery');
ok($node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $worker FROM hybridsearch_gpu_status()"),
	'GPU worker: a new worker runs');
compare_plans($run, 'GPU worker killed: device = gpu', 'SET hybridsearch.device = gpu;', items_checks());
verify_indexes($node, 'GPU worker killed', qw(items_l2 items_cos));
$t = lap('kill of the GPU worker', $t);

# ---------------------------------------------------------------------------
# 4. Tight memory.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	SET maintenance_work_mem = '1MB';
	SELECT setseed(0.8);
	INSERT INTO items SELECT n, n % 100, $v16 FROM generate_series(10001, 14000) n;
	CREATE INDEX items_mem_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_mem_cos ON items USING hybrid (v vector_cosine_ops);
	DELETE FROM items WHERE id % 5 = 0;
	VACUUM items;});
verify_indexes($node, 'maintenance_work_mem = 1MB', qw(items_l2 items_cos items_mem_l2 items_mem_cos));
# the older indexes' copies are loaded, so the planner would take them: hide
# them in a transaction the script leaves open (it rolls back)
compare_plans($run, 'maintenance_work_mem = 1MB', 'BEGIN; DROP INDEX items_l2, items_cos;',
	items_checks(index_prefix => 'items_mem'));
$node->safe_psql('postgres', 'DROP INDEX items_mem_l2, items_mem_cos');

# The two indexes' dense copies take over 2 MB together: a 2 MB shared cache
# (one extent) evicts one for the other between queries; 0 keeps no shared
# copies, and private ones of at most 1 MB are evicted the same way.
my $cache_checks = "SET hybridsearch.device = cpu; SET hybridsearch.cpu_cache_size = '1MB';\n";
for my $size ('2MB', '0')
{
	$node->adjust_conf('postgresql.conf', 'hybridsearch.shared_cache_size', undef);
	$node->append_conf('postgresql.conf', "hybridsearch.shared_cache_size = '$size'");
	$node->restart;
	compare_plans(session_runner(HybridSearchTest::Session->new($node)),
		"shared_cache_size = $size", $cache_checks, items_checks(), items_checks());
}
$node->adjust_conf('postgresql.conf', 'hybridsearch.shared_cache_size', undef);
$node->restart;

# an index of 2000 x 256 dimensions, 2 MB, over the limit on a GPU too
my $v256 = 'ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, 256) WHERE n > 0)::float8[]::vector';
$node->safe_psql('postgres', qq{
	SELECT setseed(0.85);
	CREATE TABLE wide (id int, f int, v vector(256));
	INSERT INTO wide SELECT n, n % 100, $v256 FROM generate_series(1, 2000) n;
	CREATE INDEX wide_l2 ON wide USING hybrid (v vector_l2_ops);
	CREATE INDEX wide_cos ON wide USING hybrid (v vector_cosine_ops);
	INSERT INTO qvec SELECT 'wide', 'r1', $v256 FROM generate_series(1, 1) n;
	INSERT INTO qvec SELECT 'wide', 'row', v FROM wide WHERE id = 7;});
$node->append_conf('postgresql.conf', 'hybridsearch.gpu_memory_limit = 1');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT current_setting('hybridsearch.gpu_memory_limit') = '1MB'}),
	'gpu_memory_limit = 1MB is in effect');
my $has_gpu = $node->safe_psql('postgres', 'SELECT ready FROM hybridsearch_gpu_status()') eq 't';
($ret, $out, $err) = $node->psql('postgres', q{
	SET hybridsearch.device = gpu;
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM wide ORDER BY v <-> (SELECT v FROM qvec WHERE tab = 'wide' AND name = 'r1') LIMIT 5) s});
is($out, '5', 'gpu_memory_limit = 1MB: the scan answers');
like($err, $has_gpu
	? qr/WARNING:  hybridsearch: GPU search unavailable, using the CPU: the index needs more GPU memory/
	: qr/WARNING:  hybridsearch: GPU search unavailable, using the CPU: /,
	'gpu_memory_limit = 1MB: a WARNING says the CPU answered');
compare_plans($run, 'gpu_memory_limit = 1MB', 'SET hybridsearch.device = gpu;',
	items_checks(table => 'wide'));
$t = lap('tight memory', $t);

note(sprintf("060_faults total: %.1f s", time - $t_start));
$node->stop;
done_testing();
