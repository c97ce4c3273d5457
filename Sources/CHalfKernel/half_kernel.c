#include "half_kernel.h"

#include <string.h>

#if defined(__F16C__) && defined(__FMA__) && defined(__AVX2__)
#include <immintrin.h>
#define DL_ACCELERATED 1
#else
#define DL_ACCELERATED 0
#endif

size_t dl_half_packed_count(size_t rows, size_t cols) {
    size_t blocks = (cols + DL_HALF_BLOCK - 1) / DL_HALF_BLOCK;
    return blocks * rows * DL_HALF_BLOCK;
}

static uint16_t to_half(float value) {
    _Float16 half = (_Float16)value;
    uint16_t bits;
    memcpy(&bits, &half, sizeof bits);
    return bits;
}

#if !DL_ACCELERATED
static float from_half(uint16_t bits) {
    _Float16 half;
    memcpy(&half, &bits, sizeof half);
    return (float)half;
}
#endif

void dl_half_pack(const float *w, size_t rows, size_t cols, uint16_t *packed) {
    size_t blocks = (cols + DL_HALF_BLOCK - 1) / DL_HALF_BLOCK;
    for (size_t b = 0; b < blocks; b++) {
        uint16_t *block = packed + b * rows * DL_HALF_BLOCK;
        for (size_t i = 0; i < rows; i++) {
            for (size_t c = 0; c < DL_HALF_BLOCK; c++) {
                size_t col = b * DL_HALF_BLOCK + c;
                block[i * DL_HALF_BLOCK + c] = col < cols ? to_half(w[i * cols + col]) : 0;
            }
        }
    }
}

void dl_half_gemv(const uint16_t *packed, size_t rows, size_t cols, const float *x, const float *bias, float *y) {
    size_t blocks = (cols + DL_HALF_BLOCK - 1) / DL_HALF_BLOCK;
    float sums[DL_HALF_BLOCK];
    for (size_t b = 0; b < blocks; b++) {
        const uint16_t *block = packed + b * rows * DL_HALF_BLOCK;
#if DL_ACCELERATED
        // Eight accumulators of eight floats: eight independent FMA chains per row.
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 a4 = _mm256_setzero_ps(), a5 = _mm256_setzero_ps(), a6 = _mm256_setzero_ps(), a7 = _mm256_setzero_ps();
        for (size_t i = 0; i < rows; i++) {
            const __m128i *row = (const __m128i *)(block + i * DL_HALF_BLOCK);
            __m256 xi = _mm256_broadcast_ss(x + i);
            a0 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 0)), a0);
            a1 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 1)), a1);
            a2 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 2)), a2);
            a3 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 3)), a3);
            a4 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 4)), a4);
            a5 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 5)), a5);
            a6 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 6)), a6);
            a7 = _mm256_fmadd_ps(xi, _mm256_cvtph_ps(_mm_loadu_si128(row + 7)), a7);
        }
        _mm256_storeu_ps(sums + 0, a0);
        _mm256_storeu_ps(sums + 8, a1);
        _mm256_storeu_ps(sums + 16, a2);
        _mm256_storeu_ps(sums + 24, a3);
        _mm256_storeu_ps(sums + 32, a4);
        _mm256_storeu_ps(sums + 40, a5);
        _mm256_storeu_ps(sums + 48, a6);
        _mm256_storeu_ps(sums + 56, a7);
#else
        for (size_t c = 0; c < DL_HALF_BLOCK; c++) sums[c] = 0;
        for (size_t i = 0; i < rows; i++) {
            for (size_t c = 0; c < DL_HALF_BLOCK; c++) sums[c] += x[i] * from_half(block[i * DL_HALF_BLOCK + c]);
        }
#endif
        for (size_t c = 0; c < DL_HALF_BLOCK && b * DL_HALF_BLOCK + c < cols; c++) {
            y[b * DL_HALF_BLOCK + c] = bias[b * DL_HALF_BLOCK + c] + sums[c];
        }
    }
}

int dl_half_accelerated(void) { return DL_ACCELERATED; }
