/*
 * impl/tensor_f16.cu
 *	  The tensor kernel's instantiations for fp16 rows.
 */
#include "impl/tensor_kernel.cuh"

template int tensor_variant_table<__half>(const TensorVariant **out);
