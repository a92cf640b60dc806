/*
 * impl/tensor_f32.cu
 *	  The tensor kernel's instantiations for fp32 rows (TF32 products).
 */
#include "impl/tensor_kernel.cuh"

template int tensor_variant_table<float>(const TensorVariant **out);
