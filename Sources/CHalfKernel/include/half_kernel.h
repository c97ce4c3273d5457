// Matrix–vector products with half-precision weights, for applying a projection to one
// query vector: the weights take half the memory (half the bytes read per query) and
// are widened to float32 as they are read (F16C), with float32 accumulation (FMA).
#ifndef DRIFTLESS_HALF_KERNEL_H
#define DRIFTLESS_HALF_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/// Columns per block of the packed layout.
#define DL_HALF_BLOCK 64

/// Values a packed `rows × cols` matrix takes: columns padded to whole blocks.
size_t dl_half_packed_count(size_t rows, size_t cols);

/// Packs row-major float32 `w` (`rows × cols`) into `packed` (dl_half_packed_count values):
/// block by block of 64 columns, each block row after row, rounded to nearest half.
void dl_half_pack(const float *w, size_t rows, size_t cols, uint16_t *packed);

/// `y = x·W + bias` for a matrix packed by dl_half_pack (`x`: rows values, `y` and `bias`: cols).
void dl_half_gemv(const uint16_t *packed, size_t rows, size_t cols, const float *x, const float *bias, float *y);

/// 1 when the build uses the F16C/FMA instructions, 0 for the portable loop.
int dl_half_accelerated(void);

#endif
