-- The GPU settings and hybridsearch_gpu_status(): the same answers with or
-- without the preload, a GPU, or the GPU runner's settings.
\set VERBOSITY default
LOAD 'hybridsearch';

-- hybridsearch.gpu_devices: "all" or distinct device numbers 0..63
SHOW hybridsearch.gpu_devices;
ALTER SYSTEM SET hybridsearch.gpu_devices = 'x';
ALTER SYSTEM SET hybridsearch.gpu_devices = '0,0';
ALTER SYSTEM SET hybridsearch.gpu_devices = '0,,1';
ALTER SYSTEM SET hybridsearch.gpu_devices = '-1';
ALTER SYSTEM SET hybridsearch.gpu_devices = '64';
ALTER SYSTEM SET hybridsearch.gpu_devices = '';
ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = 0;
ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = 9;
-- hybridsearch.gpu_launches_in_flight: 1 or 2, the CUDA module's lanes
SHOW hybridsearch.gpu_launches_in_flight;
ALTER SYSTEM SET hybridsearch.gpu_launches_in_flight = 0;
ALTER SYSTEM SET hybridsearch.gpu_launches_in_flight = 3;

-- settings of the configuration file: a session cannot change them
SET hybridsearch.gpu_devices = '0';
SET hybridsearch.gpu_parts_per_device = 2;
SET hybridsearch.gpu_launches_in_flight = 1;

-- the status's devices and parts are filled exactly when it is ready
SELECT pg_typeof(devices) AS devices_type, pg_typeof(parts_per_index) AS parts_type,
       ready = (cardinality(devices) > 0) AND ready = (parts_per_index > 0) AS consistent
FROM hybridsearch_gpu_status();
