#include "skinny_gemm.h"

#if defined(__FMA__) && defined(__AVX2__)
#include <immintrin.h>

static inline float sum8(__m256 v) {
    __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(low, high);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

void dl_skinny_sgemm_nt(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
                        size_t ldw, float *y, size_t ldy) {
    size_t o = 0;
#if defined(__FMA__) && defined(__AVX2__)
    size_t vector_end = inputs & ~(size_t)7;
    // Four weight rows at a time, against every input row: the four rows stay in L1 while
    // each input row streams past them.
    for (; o + 4 <= outputs; o += 4) {
        const float *w0 = w + o * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * ldx;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                   a3 = _mm256_setzero_ps();
            for (size_t k = 0; k < vector_end; k += 8) {
                __m256 xv = _mm256_loadu_ps(xr + k);
                a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + k), a0);
                a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w1 + k), a1);
                a2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w2 + k), a2);
                a3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w3 + k), a3);
            }
            float s0 = sum8(a0), s1 = sum8(a1), s2 = sum8(a2), s3 = sum8(a3);
            for (size_t k = vector_end; k < inputs; k++) {
                s0 += xr[k] * w0[k];
                s1 += xr[k] * w1[k];
                s2 += xr[k] * w2[k];
                s3 += xr[k] * w3[k];
            }
            float *yr = y + r * ldy + o;
            yr[0] += s0;
            yr[1] += s1;
            yr[2] += s2;
            yr[3] += s3;
        }
    }
#endif
    for (; o < outputs; o++) {
        const float *wo = w + o * ldw;
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * ldx;
            float s = 0;
            for (size_t k = 0; k < inputs; k++) s += xr[k] * wo[k];
            y[r * ldy + o] += s;
        }
    }
}
