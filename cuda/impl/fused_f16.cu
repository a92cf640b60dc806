/*
 * impl/fused_f16.cu
 *	  The fused kernel's instantiations for fp16 rows, in a translation unit
 *	  of their own so they compile in parallel with the fp32 ones.
 */
#include "impl/fused_kernel.cuh"

template int fused_variant_table<__half>(const FusedVariant **out);
