#ifndef DL_SKINNY_GEMM_H
#define DL_SKINNY_GEMM_H

#include <stddef.h>

/// y[r * ldy + o] += sum over k < inputs of x[r * ldx + k] * w[o * ldw + k], for r < rows and
/// o < outputs: a product with few rows (a search query's tokens) against a row-major weight
/// matrix, reading each weight once and packing nothing (BLAS packs the whole matrix per call,
/// which costs more than the arithmetic when rows are few).
void dl_skinny_sgemm_nt(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
                        size_t ldw, float *y, size_t ldy);

/// 1 when the product runs its AVX-512 kernel (the CPU has AVX-512F and DRIFTLESS_SKINNY_AVX512
/// is not 0), 0 for the AVX2 (or plain) one. Decided on first use.
int dl_skinny_sgemm_uses_avx512(void);

/// 1 when the CPU has AVX-512F (and this build the kernel for it).
int dl_skinny_sgemm_has_avx512(void);

/// The same product with the kernel chosen: AVX-512 when `avx512` is 1 and the CPU has it,
/// else AVX2 + FMA (or plain C, in a build without them).
void dl_skinny_sgemm_nt_kernel(int avx512, size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx,
                               const float *w, size_t ldw, float *y, size_t ldy);

#endif
