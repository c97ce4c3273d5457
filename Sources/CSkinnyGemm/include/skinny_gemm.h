#ifndef DL_SKINNY_GEMM_H
#define DL_SKINNY_GEMM_H

#include <stddef.h>

/// y[r * ldy + o] += sum over k < inputs of x[r * ldx + k] * w[o * ldw + k], for r < rows and
/// o < outputs: a product with few rows (a search query's tokens) against a row-major weight
/// matrix, reading each weight once and packing nothing (BLAS packs the whole matrix per call,
/// which costs more than the arithmetic when rows are few).
void dl_skinny_sgemm_nt(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
                        size_t ldw, float *y, size_t ldy);

#endif
