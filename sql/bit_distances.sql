--
-- bit_distances: hamming and jaccard distances over bit, binary_quantize,
-- and the vector functions of pgvector 0.8 that 0.1.0 lacked
-- (vector_l2_squared_distance, vector_spherical_distance), and
-- vector_combine's checks of its states, as pgvector has them.
--

-- hamming distance: the number of bits that differ
SELECT hamming_distance(B'111', B'111'), hamming_distance(B'111', B'110'),
       hamming_distance(B'111', B'100'), hamming_distance(B'111', B'000');
SELECT B'1010' <~> B'0101', B'' <~> B'', B'' <%> B'', hamming_distance(B'101'::varbit, B'001');
SELECT hamming_distance(B'111', B'00');
SELECT B'111' <~> B'00';
-- whole bytes and a partial last byte
SELECT hamming_distance(repeat('10', 40)::bit(80), repeat('01', 40)::bit(80)),
       hamming_distance(repeat('1', 77)::bit(77), repeat('0', 77)::bit(77));

-- jaccard distance: 1 - |a AND b| / |a OR b|; 1 when no bit is set in both
SELECT jaccard_distance(B'1111', B'1111'), jaccard_distance(B'1111', B'1110'),
       jaccard_distance(B'1111', B'1100'), jaccard_distance(B'1111', B'1000'),
       jaccard_distance(B'1111', B'0000'), jaccard_distance(B'1100', B'1000');
SELECT jaccard_distance(B'0000', B'0000'), B'0011' <%> B'0110';
SELECT jaccard_distance(B'1111', B'000');
SELECT B'1111' <%> B'000';

-- binary_quantize: bit i set where element i is positive
SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1e-45,-1e-45,-0]'::vector);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::vector)),
       bit_count(binary_quantize(array_fill(1, ARRAY[16000])::vector));
-- the quantized distance of pgvector's recipe
SELECT binary_quantize('[1,2,-3]'::vector)::bit(3) <~> binary_quantize('[1,-2,3]'::vector);

-- the other vector functions of pgvector 0.8
SELECT vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT vector_l2_squared_distance('[1,2]', '[3]');
SELECT vector_spherical_distance('[1,0]', '[0,1]'), vector_spherical_distance('[1,0]', '[-1,0]'),
       vector_spherical_distance('[1,0]', '[1,0]'), vector_spherical_distance('[2,0]', '[2,0]');
SELECT vector_spherical_distance('[1,2]', '[3]');

-- vector_combine (avg's combine function): both states are checked
SELECT vector_combine('{0}', '{0}'), vector_combine('{2,4,6}', '{0}'), vector_combine('{0}', '{2,4,6}');
SELECT vector_combine('{1,2,3}', '{2,4,6}');
SELECT vector_combine('{3}', '{2,4,6}');		-- a count without sums takes the other's sums
SELECT vector_combine('{1,2}', '{1,2,3}');
SELECT vector_combine('{}', '{0}');
SELECT vector_combine('{0}', '{}');
SELECT vector_combine('{{0}}', '{0}');
SELECT vector_combine('{NULL}', '{0}');
SELECT vector_combine('{0}', ('{1,' || array_to_string(array_fill(1, ARRAY[16001]), ',') || '}')::float8[]);
SELECT vector_combine(('{1,' || array_to_string(array_fill(1, ARRAY[16001]), ',') || '}')::float8[],
                      ('{1,' || array_to_string(array_fill(1, ARRAY[16001]), ',') || '}')::float8[]);
SELECT vector_combine('{1,1e308}', '{1,1e308}');
-- arguments are not modified
SELECT s, vector_combine(s, s), s FROM (VALUES ('{1,2,3}'::float8[])) t(s);
SELECT vector_avg(vector_combine(vector_accum('{0}', '[1,2]'), vector_accum('{0}', '[3,4]')));
-- a state without sums takes the row's, whatever its count, as in pgvector
SELECT vector_accum('{5}', '[1,2,3]'), halfvec_accum('{5}', '[1,2]');
