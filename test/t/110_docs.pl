# The documents' examples run as written.  Every fenced ```sql, ```sh and
# ```bash block of README.md and doc/*.md runs against a throw-away cluster
# with the library preloaded (no GPU), each document in a database of its
# own, its blocks in order, so later blocks see earlier blocks' tables.  The
# database has the extension created unless one of the document's run blocks
# creates it itself.  A block not meant to run as written is marked on the
# line before its fence:
#     <!-- doc-test: skip (the reason) -->
# What is checked, per run block:
#   - sql: the errors it raises are those it shows, in order (the text after
#     "ERROR:" on a comment line of the block, or in a plain ``` or ```text
#     block right after it), and no others;
#   - sql: a one-line SELECT followed by "-- RESULT" on the same line
#     returns RESULT (psql's unaligned form, columns joined by " | ");
#   - sql followed (past blank lines only) by a ``` or ```text block: psql's
#     aligned output of the block is that text, trailing blanks aside;
#   - sh/bash: runs with bash -e in a scratch directory, with PGHOST, PGPORT
#     and PGDATABASE naming the document's database, and exits 0.
# It prints, per file, how many blocks ran and how many were skipped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $root = $ENV{TESTDIR} or die "TESTDIR must name the repository root";
my @files = ("$root/README.md", sort glob("$root/doc/*.md"));

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'hybridsearch'
hybridsearch.shared_cache_size = 64MB
});
$node->start;

# parse FILE: its fenced blocks, each { lang, line, text, skip, output }
sub parse
{
	my ($file) = @_;
	open my $fh, '<', $file or die "$file: $!";
	my @lines = <$fh>;
	close $fh;
	my (@blocks, $cur, $indent, $last_text);
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		if (!$cur && $l =~ /^(\s*)```\s*([\w-]*)\s*$/)
		{
			$indent = length $1;
			$cur = { lang => $2, line => $i + 1, text => '', prev => $last_text };
			# only blank lines since the block before: it may be that block's output
			$cur->{after} = $blocks[-1]
				if @blocks && join('', @lines[$blocks[-1]{end_i} + 1 .. $i - 1]) !~ /\S/;
			next;
		}
		if ($cur && $l =~ /^\s*```\s*$/)
		{
			$cur->{end_i} = $i;
			$last_text = "";
			if ($cur->{prev} && $cur->{prev} =~ /^\s*<!--\s*doc-test:\s*skip\s*\((.+)\)\s*-->\s*$/)
			{
				$cur->{skip} = $1;
			}
			elsif ($cur->{prev} && $cur->{prev} =~ /doc-test/)
			{
				$cur->{bad_marker} = $cur->{prev};
			}
			push @blocks, $cur;
			undef $cur;
			next;
		}
		if ($cur)
		{
			$l =~ s/^ {0,$indent}//;
			$cur->{text} .= $l;
		}
		elsif ($l =~ /\S/)
		{
			$last_text = $l;
		}
	}
	die "$file: a fence opened at line $cur->{line} is not closed" if $cur;
	# a plain or text block right after a sql block is its output
	for my $b (@blocks)
	{
		my $a = $b->{after};
		$a->{output} = $b
			if $a && $a->{lang} eq 'sql' && ($b->{lang} eq '' || $b->{lang} eq 'text');
	}
	return @blocks;
}

# psql FILE DB ARGS...: its output and messages together, in order
sub psql_file
{
	my ($file, $db, @args) = @_;
	my $out = '';
	IPC::Run::run([ 'psql', '-X', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr($db),
		@args, '-f', $file ], '<', \undef, '>&', \$out);
	return $out;
}

sub errors_in	# the messages of the ERROR lines in TEXT
{
	my ($text) = @_;
	return map { s/\s+$//r } $text =~ /ERROR:\s+(?:[0-9A-Z]{5}:\s+)?(.*)/g;
}

my $scratch = PostgreSQL::Test::Utils::tempdir;
my $n = 0;
for my $file (@files)
{
	my $name = $file =~ s{^\Q$root\E/}{}r;
	my @run = grep { $_->{lang} =~ /^(sql|sh|bash)$/ } parse($file);
	next unless @run;
	my $db = 'doc' . $n++;
	my ($ran, $skipped) = (0, 0);
	my @todo = grep { !$_->{skip} } @run;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION hybridsearch')
		unless grep { $_->{lang} eq 'sql' && $_->{text} =~ /^\s*CREATE EXTENSION hybridsearch\b/mi } @todo;
	for my $b (@run)
	{
		my $where = "$name:$b->{line}";
		fail("$where: a doc-test marker must read '<!-- doc-test: skip (reason) -->'")
			if $b->{bad_marker};
		if ($b->{skip})
		{
			$skipped++;
			next;
		}
		$ran++;
		my $sqlfile = "$scratch/block.sql";
		open my $fh, '>', $sqlfile or die $!;
		print $fh $b->{text};
		close $fh;
		if ($b->{lang} ne 'sql')
		{
			my $out = '';
			my %env = (PGHOST => $node->host, PGPORT => $node->port, PGDATABASE => $db);
			local @ENV{ keys %env } = values %env;
			my $ok = IPC::Run::run([ 'bash', '-e', $sqlfile ], '<', \undef, '>&', \$out,
				init => sub { chdir $scratch });
			ok($ok, "$where: runs") or diag($out);
			next;
		}
		my @want = errors_in(join "\n", $b->{text} =~ /--\s*(ERROR:.*)$/mg);
		if ($b->{output})
		{
			# aligned output, compared with the block shown after it
			my $out = psql_file($sqlfile, $db, '-q');
			$out =~ s/^psql:[^\n]*?:\d+: //mg;
			@want = errors_in($b->{output}{text}) unless @want;
			is_deeply([ errors_in($out) ], \@want, "$where: raises the errors it shows")
				or diag($out);
			my $norm = sub { join "\n", grep { /\S/ } map { s/\s+$//r } split /\n/, $_[0] };
			is($norm->($out), $norm->($b->{output}{text}),
				"$where: output as shown at line $b->{output}{line}");
			next;
		}
		# echoed input, each statement's results after it
		my $out = psql_file($sqlfile, $db, '-a', '-A', '-t', '-F', ' | ');
		my @got = errors_in(join "\n", grep { /^psql:/ } split /\n/, $out);
		is_deeply(\@got, \@want, "$where: raises the errors it shows")
			or diag($out);
		my @out = split /\n/, $out;
		my %input = map { $_ => 1 } split /\n/, $b->{text};
		my $pos = 0;
		for my $line (split /\n/, $b->{text})
		{
			$pos++ while $pos < @out && $out[$pos] ne $line;
			$pos++;
			next unless $line =~ /^\s*(SELECT\b.*;)\s*--\s*(.*?)\s*$/i && $2 !~ /^ERROR:/;
			my ($stmt, $want) = ($1, $2);
			my @res;
			push @res, $out[$pos++] while $pos < @out && $out[$pos] !~ /^psql:/ && !$input{ $out[$pos] };
			is(join('  ', @res), $want, "$where: $stmt");
		}
	}
	diag "$name: $ran blocks ran, $skipped skipped";
}

$node->stop;
done_testing();
