/*
 * impl/fused_f32.cu
 *	  The fused kernel's instantiations for fp32 rows, in a translation unit
 *	  of their own so they compile in parallel with the fp16 ones.
 */
#include "impl/fused_kernel.cuh"

template int fused_variant_table<float>(const FusedVariant **out);
