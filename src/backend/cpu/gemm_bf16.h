/* Internal: the bf16 product of the mixed_bfloat16 policy (src/backend/cpu/gemm_bf16.c).
 * C = alpha op(A) op(B) + beta C with A and B rounded to bf16 and the products summed
 * in float32: the arguments, shapes and results are px_gemm's, all float32. */
#ifndef PX_BACKEND_CPU_GEMM_BF16_H
#define PX_BACKEND_CPU_GEMM_BF16_H

#include <stdbool.h>

#include "backend/cpu/gemm.h"

/* True when this build and this processor can run px_gemm_bf16: the build has oneDNN
 * and the processor AVX512_BF16 (every processor with AMX has it too). When false,
 * *why (if not NULL) says which is missing, as a clause for an error message. */
bool px_bf16_supported(const char **why);

/* The product with bf16 inputs and float32 accumulation. Results do not depend on the
 * thread count: the product is cut into tiles by its shape and the machine's processor
 * count (px_gemm_tile_grid), never the thread count, each computed
 * by one single-threaded oneDNN call; a product of fewer than 2^19 multiply-adds is
 * px_gemm's float32 product of the rounded operands (the same products, exact in
 * float32, summed in float32), which does not depend on it either. Falls back to
 * px_gemm when !px_bf16_supported() (callers check first; the policy code refuses
 * mixed_bfloat16 then). */
void px_gemm_bf16(const px_gemm_args *g);

/* x rounded to bf16 (round to nearest even, subnormals flushed as the hardware's
 * conversion does) and widened back to float: what px_gemm_bf16 multiplies. */
float px_bf16_round(float x);

#endif
