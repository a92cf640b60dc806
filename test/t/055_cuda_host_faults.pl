# Containment of CUDA faults: the GPU worker makes every CUDA call in a child
# process, the CUDA host, which shares nothing of PostgreSQL's shared memory.
# The host is made to die of SIGSEGV and of abort(), to hang past
# hybridsearch.gpu_timeout and to be killed from outside.  After each: the
# client sessions are the same processes and keep working, the postmaster
# restarted nothing, the scan's answer is exact, the worker logged the
# host's death and started another, and hybridsearch_gpu_status() shows the
# state it had before.  Without a GPU (CI) the host runs without a device
# and still receives the faulted request; with a GPU the same test runs on it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cuda_host');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
restart_after_crash = on
hybridsearch.gpu_timeout = 3000
});
# A rerun in the same checkout appends to the same log: read only this run's.
my $log_start = -s $node->logfile // 0;
$node->start;
my $postmaster = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE items AS
	SELECT i AS id, ARRAY[sin(i), cos(i), sin(i * 0.7), cos(i * 1.3)]::real[]::vector(4) AS embedding
	FROM generate_series(1, 3000) i;
	CREATE INDEX items_l2 ON items USING hybrid (embedding vector_l2_ops);
});

my $query = '[0.5,-0.1,0.9,0.3]';
my $listing = qq{SELECT string_agg(id::text || ':' || (embedding <-> '$query')::text, ',')
	FROM (SELECT id, embedding FROM items ORDER BY embedding <-> '$query' LIMIT 50) s};
my $reference = $node->safe_psql('postgres', "SET enable_indexscan = off; $listing");

ok($node->poll_query_until('postgres',
		q{SELECT ready OR status NOT LIKE '%opening%' FROM hybridsearch_gpu_status()}),
	'the worker has settled whether it has a device');
my ($worker, $status) = split /\|/,
  $node->safe_psql('postgres', 'SELECT worker_pid, status FROM hybridsearch_gpu_status()');
my $has_gpu = $node->safe_psql('postgres', 'SELECT ready FROM hybridsearch_gpu_status()') eq 't';
note("worker $worker: $status");

# The worker's children: its CUDA host.
sub host_pids
{
	my @pids;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) /;
		push @pids, $1 if $2 == $worker;
	}
	return @pids;
}

# Shared mappings (start-end) of a process.
sub shared_mappings
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/maps" or return ();
	my @ranges = map { (split / /)[0] } grep { /^\S+ \S\S\Ss / } <$fh>;
	close $fh;
	return @ranges;
}

# The new host, once the worker has replaced $old (undef: the first).
sub wait_new_host
{
	my ($old) = @_;
	for (1 .. 300)
	{
		my @pids = host_pids();
		return $pids[0] if @pids == 1 && (!defined $old || $pids[0] != $old);
		select(undef, undef, undef, 0.1);
	}
	return undef;
}

my $host = wait_new_host(undef);
ok(defined $host, 'the worker has one child, its CUDA host');

# Of the worker's shared mappings (main shared memory, its System V
# segment, dynamic segments, the channel) the host keeps only the channel.
my %in_host = map { $_ => 1 } shared_mappings($host);
my @common = grep { $in_host{$_} } shared_mappings($worker);
is(scalar @common, 1, 'the CUDA host shares one mapping with the worker: the channel');
ok(!(grep { /SYSV|PostgreSQL\./ } do { open my $m, '<', "/proc/$host/maps"; <$m> }),
	'no System V or dynamic shared memory segment of PostgreSQL is mapped in the CUDA host');
like(slurp_file($node->logfile, $log_start),
	qr/CUDA host process $host started; a round trip to it takes [\d.]+ us/,
	'the worker logs the cost of a round trip to the host');

# sessions that must outlive every fault
my @sessions = map { $node->background_psql('postgres') } 1 .. 3;
my @session_pids = map { $_->query_safe('SELECT pg_backend_pid()') } @sessions;

sub faulted_scan
{
	my ($fault) = @_;
	return $node->psql('postgres', qq{
		SET enable_seqscan = off;
		SET extra_float_digits = 3;
		SET hybridsearch.device = gpu;
		SET hybridsearch.gpu_fault = $fault;
		$listing});
}

my %expected_reason = (
	cuda_segfault => qr/terminated by signal 11/,
	cuda_abort => qr/terminated by signal 6/,
	cuda_hang => qr/did not answer within/);
for my $fault ('cuda_segfault', 'cuda_abort', 'cuda_hang')
{
	my $offset = -s $node->logfile;
	my ($ret, $out, $err) = faulted_scan($fault);
	is($out, $reference, "$fault: the index scan returns what the sequential scan returns");
	like($err, qr/WARNING:  hybridsearch: GPU search unavailable, using the CPU: .*$expected_reason{$fault}/,
		"$fault: a WARNING says why the CPU answered");
	unlike($err, qr/ERROR/, "$fault: no error");
	$node->wait_for_log(qr/the CUDA host process \(pid $host\) .*$expected_reason{$fault}/, $offset);
	my $new = wait_new_host($host);
	ok(defined $new, "$fault: a new CUDA host runs");
	$host = $new;
	ok($node->poll_query_until('postgres', qq{
			SELECT worker_pid = $worker AND status = \$s\$$status\$s\$ FROM hybridsearch_gpu_status()}),
		"$fault: the same worker reports the state it had before");
	is(join(',', map { $_->query_safe('SELECT pg_backend_pid()') } @sessions),
		join(',', @session_pids), "$fault: every client session is the same process and answers");
}

# killed from outside while idle: noticed within a second or so
my $offset = -s $node->logfile;
kill 'KILL', $host;
$node->wait_for_log(qr/the CUDA host process \(pid $host\) was terminated by signal 9/, $offset);
ok(defined wait_new_host($host), 'a killed host is replaced');
ok($node->poll_query_until('postgres',
		qq{SELECT status = \$s\$$status\$s\$ FROM hybridsearch_gpu_status()}),
	'after SIGKILL the worker reports the state it had before');

# back to the GPU (or, without one, the same fallback as before the faults)
my ($ret, $out, $err) = faulted_scan('none');
is($out, $reference, 'an unfaulted scan afterwards is exact');
if ($has_gpu)
{
	is($err, '', 'with a GPU, unfaulted scans use it again (the rows are sent again)');
	ok($node->safe_psql('postgres',
			q{SELECT gpu_scans > 0 FROM hybridsearch_stats WHERE index = 'items_l2'::regclass}) eq 't',
		'with a GPU, hybridsearch_stats counts GPU scans');
}
else
{
	like($err, qr/GPU search unavailable, using the CPU: \Q$status\E/,
		'without a GPU, the fallback names the same reason as before');
}

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $postmaster,
	'the postmaster is the same');
my $log = slurp_file($node->logfile, $log_start);
unlike($log, qr/terminating any other active server processes/, 'no server process was terminated');
unlike($log, qr/all server processes terminated; reinitializing/, 'the server did not reinitialize');
unlike($log, qr/background worker "hybridsearch GPU worker" \(PID \d+\) (was terminated|exited)/,
	'the GPU worker itself never died');
is(join(',', map { $_->query_safe('SELECT pg_backend_pid()') } @sessions), join(',', @session_pids),
	'the client sessions survived everything');
$_->quit for @sessions;
$node->stop;
done_testing();
