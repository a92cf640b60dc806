# The vector type in a real cluster: a table of vectors survives a restart,
# and a binary COPY out and back in reproduces every value bit for bit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION hybridsearch;
	CREATE TABLE items (id int PRIMARY KEY, v vector(3));
	INSERT INTO items
	SELECT i, ARRAY[random() * 1e6 - 5e5, random() * 1e-6, i]::real[]::vector
	FROM generate_series(1, 1000) i;
});

my $before = $node->safe_psql('postgres', 'SELECT string_agg(v::text, \';\' ORDER BY id) FROM items');

my $file = $node->basedir . '/items.bin';
$node->safe_psql('postgres', qq{
	COPY items TO '$file' WITH (FORMAT binary);
	CREATE TABLE copied (LIKE items);
	COPY copied FROM '$file' WITH (FORMAT binary);
});
is($node->safe_psql('postgres',
		'SELECT count(*) FROM items i JOIN copied c USING (id) WHERE i.v = c.v'),
	'1000', 'binary COPY round trip keeps every vector');

$node->restart;
is($node->safe_psql('postgres', 'SELECT string_agg(v::text, \';\' ORDER BY id) FROM items'),
	$before, 'vectors read back identically after a restart');

is($node->safe_psql('postgres', q{SELECT '[1,2]'::vector <-> '[4,6]'}),
	'5', 'L2 distance through the server');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{COPY copied FROM STDIN WITH (FORMAT binary)}, stdin => "garbage\n");
isnt($ret, 0, 'malformed binary COPY is refused');

done_testing();
