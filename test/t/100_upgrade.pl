# An upgrade as a user makes it: the 0.1.0 library and SQL (built from git,
# commit 6128ea2, the last 0.1.0 commit) installed into a private copy of
# PostgreSQL, data and hybrid indexes created, then this build installed
# over it, the server restarted and ALTER EXTENSION hybridsearch UPDATE
# run.  Then the old indexes answer exactly what a sequential scan
# answers, hybridsearch_verify passes, and the extension's objects equal a
# fresh install's.  Skips itself (saying why) when the old version cannot
# be built: no git history, no compiler or no server headers.
use strict;
use warnings;
use File::Copy;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use HybridSearchTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_commit = '6128ea2';
my $root = $ENV{TESTDIR} // "$FindBin::RealBin/../..";
my $tmp = tempdir('hybridsearch-upgrade-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $log = "$tmp/build.log";

# Run a shell command; its output goes to the build log.
sub step
{
	my ($what, $cmd) = @_;
	return 1 if system("{ $cmd ; } >>'$log' 2>&1") == 0;
	diag("$what failed: " . slurp_file($log));
	return 0;
}

my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
chomp(my $pkglibdir = `$pg_config --pkglibdir`);
chomp(my $sharedir = `$pg_config --sharedir`);

# The old source, from git (the checkout may belong to another user).
plan skip_all => "no git history with commit $old_commit in $root"
  unless system("git -c safe.directory='*' -C '$root' cat-file -e $old_commit^{commit} 2>/dev/null") == 0;
my $old_src = "$tmp/old";
mkdir $old_src;
step('git archive',
	"git -c safe.directory='*' -C '$root' archive $old_commit | tar -x -C '$old_src'")
  or plan skip_all => "cannot extract commit $old_commit";

# A private copy of this PostgreSQL without any hybridsearch, with the old
# build installed into it.
my $private_config = `'$root/test/private-pg' '$tmp/pg' 2>>'$log'`;
chomp $private_config;
plan skip_all => 'cannot copy the PostgreSQL installation' unless -x $private_config;
chomp(my $private_bindir = `'$private_config' --bindir`);
chomp(my $private_libdir = `'$private_config' --pkglibdir`);
chomp(my $private_sharedir = `'$private_config' --sharedir`);
unlink glob("'$private_libdir/hybridsearch'* '$private_libdir/libhybridsearch'*"
	  . " '$private_sharedir/extension/hybridsearch'*");
step('building 0.1.0',
	"make -C '$old_src' -s PG_CONFIG='$private_config' USE_CUDA=0 "
	  . "&& make -C '$old_src' -s PG_CONFIG='$private_config' USE_CUDA=0 install")
  or plan skip_all => "cannot build hybridsearch $old_commit (see the log above)";

my $node = PostgreSQL::Test::Cluster->new('upgrade',
	install_path => $private_bindir =~ s{/bin$}{}r);
$node->init;
$node->start;

# 0.1.0: data, and an index per metric
$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE items (id bigint PRIMARY KEY, v vector(16));
	INSERT INTO items
	SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 3)) FROM generate_series(1, 16) WHERE i > 0)::real[]::vector
	FROM generate_series(1, 3000) i;
	CREATE INDEX items_l2 ON items USING hybrid (v vector_l2_ops);
	CREATE INDEX items_ip ON items USING hybrid (v vector_ip_ops);
	CREATE INDEX items_cos ON items USING hybrid (v vector_cosine_ops);
	CREATE INDEX items_l1 ON items USING hybrid (v vector_l1_ops);
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'hybridsearch'}),
	'0.1.0', 'the old version is installed');
$node->safe_psql('postgres', knn_check_sql());

# rows added by the old library after the index build, in the index too
$node->safe_psql('postgres', q{
	INSERT INTO items
	SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 3)) FROM generate_series(1, 16) WHERE i > 0)::real[]::vector
	FROM generate_series(3001, 3500) i;
});

# this build over it: the files make install puts in place
$node->stop;
for my $file (glob("'$pkglibdir/hybridsearch'*"), glob("'$pkglibdir/libhybridsearch'*"))
{
	copy($file, $private_libdir) or die "copying $file: $!";
}
unlink glob("'$private_sharedir/extension/hybridsearch'*");
for my $file (glob("'$sharedir/extension/hybridsearch'*"))
{
	copy($file, "$private_sharedir/extension") or die "copying $file: $!";
}
$node->start;
$node->safe_psql('postgres', 'ALTER EXTENSION hybridsearch UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'hybridsearch'}),
	'0.4.0', 'ALTER EXTENSION hybridsearch UPDATE reaches 0.4.0');

# the old indexes answer exactly; rows inserted now go into them too
$node->safe_psql('postgres', q{
	INSERT INTO items
	SELECT i, (SELECT array_agg(round((random() * 2 - 1)::numeric, 3)) FROM generate_series(1, 16) WHERE i > 0)::real[]::vector
	FROM generate_series(3501, 4000) i;
});
my $checks = $node->safe_psql('postgres', q{
	SELECT count(*), sum(knn_check('items', op, q.v, lim, flt))
	FROM (SELECT v FROM items WHERE id % 400 = 7) q,
	     unnest(ARRAY['<->', '<#>', '<=>', '<+>']) op,
	     unnest(ARRAY[1, 10, 200]) lim,
	     unnest(ARRAY['true', 'id % 3 = 0']) flt;
});
is($checks, '240|' . (10 * 4 * 2 * (1 + 10 + 200)),
	'after the upgrade, every index scan returns what a sequential scan returns');
verify_indexes($node, 'after the upgrade', qw(items_l2 items_ip items_cos items_l1));

# the new objects work in the upgraded database
is($node->safe_psql('postgres', q{SELECT '[1,2]'::halfvec <-> '[4,6]', binary_quantize('[1,-1]'::vector)::text, '{1:3}/2'::sparsevec <-> '{2:4}/2'}),
	'5|10|5', 'halfvec, binary_quantize and sparsevec work after the upgrade');

# the extension's objects, with their definitions, equal a fresh install's
my $objects_sql = q{
	SELECT string_agg(o, E'\n' ORDER BY o) FROM (
		SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' | ' ||
			coalesce(CASE d.classid
				WHEN 'pg_proc'::regclass THEN
					(SELECT concat_ws(' ', prosrc, probin, provolatile, proparallel, proisstrict,
									  prorettype::regtype, proacl::text)
					 FROM pg_proc WHERE oid = d.objid)
				WHEN 'pg_type'::regclass THEN
					(SELECT concat_ws(' ', typinput, typoutput, typreceive, typsend, typmodin,
									  typstorage, typalign, typlen)
					 FROM pg_type WHERE oid = d.objid)
				WHEN 'pg_operator'::regclass THEN
					(SELECT concat_ws(' ', oprcode::regprocedure, oprcom::regoperator,
									  oprnegate::regoperator, oprrest, oprjoin)
					 FROM pg_operator WHERE oid = d.objid)
				WHEN 'pg_cast'::regclass THEN
					(SELECT concat_ws(' ', castfunc::regprocedure, castcontext, castmethod)
					 FROM pg_cast WHERE oid = d.objid)
				WHEN 'pg_opclass'::regclass THEN
					(SELECT string_agg(x, ', ' ORDER BY x) FROM (
						SELECT 'op ' || amopstrategy || ' ' || amopopr::regoperator || ' ' || amoppurpose::text AS x
						FROM pg_amop a JOIN pg_opclass c ON a.amopfamily = c.opcfamily WHERE c.oid = d.objid
						UNION ALL
						SELECT 'proc ' || amprocnum || ' ' || amproc::regprocedure
						FROM pg_amproc a JOIN pg_opclass c ON a.amprocfamily = c.opcfamily WHERE c.oid = d.objid) m)
			END, '') || ' | ' ||
			coalesce(obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)), '') AS o
		FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hybridsearch')) s;
};
my $upgraded = $node->safe_psql('postgres', $objects_sql);
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION hybridsearch');
my $fresh = $node->safe_psql('fresh', $objects_sql);
cmp_ok(scalar(split /\n/, $fresh), '>', 200, 'the fresh install lists its objects');
is($upgraded, $fresh, 'the upgraded extension has the objects of a fresh install, definitions and comments included');

$node->stop;
done_testing();
