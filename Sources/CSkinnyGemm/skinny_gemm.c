#include "skinny_gemm.h"

#include <stdlib.h>

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

#if defined(__x86_64__) && defined(__GNUC__)
#if !(defined(__FMA__) && defined(__AVX2__))
#include <immintrin.h>
#endif
#define DL_HAVE_AVX512_PATH 1

// AVX-512: tiles of R input rows × O weight rows, R·O accumulators of 16 floats each (up to
// 4 × 6 = 24 of the 32 registers), so that each k step loads R + O vectors for R·O
// multiply-adds (the AVX2 path above loads 5 for 4). The weights of one column block (6 rows
// of `inputs` floats) stay in L1 while the input rows pass them. The tail of k is masked.
__attribute__((target("avx512f"), always_inline)) static inline void
tile512(size_t R, size_t O, size_t inputs, const float *x, size_t ldx, const float *w, size_t ldw, float *y,
        size_t ldy) {
    __m512 acc[4][6];
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < O; j++) acc[i][j] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= inputs; k += 16) {
        __m512 wv[6];
        for (size_t j = 0; j < O; j++) wv[j] = _mm512_loadu_ps(w + j * ldw + k);
        for (size_t i = 0; i < R; i++) {
            __m512 xv = _mm512_loadu_ps(x + i * ldx + k);
            for (size_t j = 0; j < O; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (k < inputs) {
        __mmask16 mask = (__mmask16)((1u << (inputs - k)) - 1);
        __m512 wv[6];
        for (size_t j = 0; j < O; j++) wv[j] = _mm512_maskz_loadu_ps(mask, w + j * ldw + k);
        for (size_t i = 0; i < R; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(mask, x + i * ldx + k);
            for (size_t j = 0; j < O; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < O; j++) y[i * ldy + j] += _mm512_reduce_add_ps(acc[i][j]);
}

// The row tiles of one column block of O weight rows: 4 rows at a time, then the rest.
__attribute__((target("avx512f"), always_inline)) static inline void
column_block512(size_t O, size_t rows, size_t inputs, const float *x, size_t ldx, const float *w, size_t ldw,
                float *y, size_t ldy) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) tile512(4, O, inputs, x + r * ldx, ldx, w, ldw, y + r * ldy, ldy);
    switch (rows - r) {
    case 3: tile512(3, O, inputs, x + r * ldx, ldx, w, ldw, y + r * ldy, ldy); break;
    case 2: tile512(2, O, inputs, x + r * ldx, ldx, w, ldw, y + r * ldy, ldy); break;
    case 1: tile512(1, O, inputs, x + r * ldx, ldx, w, ldw, y + r * ldy, ldy); break;
    default: break;
    }
}

__attribute__((target("avx512f"))) static void skinny512(size_t rows, size_t outputs, size_t inputs, const float *x,
                                                         size_t ldx, const float *w, size_t ldw, float *y,
                                                         size_t ldy) {
    size_t o = 0;
    for (; o + 6 <= outputs; o += 6) column_block512(6, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy);
    switch (outputs - o) {
    case 5: column_block512(5, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy); break;
    case 4: column_block512(4, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy); break;
    case 3: column_block512(3, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy); break;
    case 2: column_block512(2, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy); break;
    case 1: column_block512(1, rows, inputs, x, ldx, w + o * ldw, ldw, y + o, ldy); break;
    default: break;
    }
}

#endif

int dl_skinny_sgemm_has_avx512(void) {
#ifdef DL_HAVE_AVX512_PATH
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

// Decided once: the AVX-512 kernel where the CPU has it, unless DRIFTLESS_SKINNY_AVX512=0.
int dl_skinny_sgemm_uses_avx512(void) {
    static int decided = -1;
    int known = __atomic_load_n(&decided, __ATOMIC_RELAXED);
    if (known < 0) {
        const char *setting = getenv("DRIFTLESS_SKINNY_AVX512");
        known = dl_skinny_sgemm_has_avx512() && !(setting && setting[0] == '0');
        __atomic_store_n(&decided, known, __ATOMIC_RELAXED);
    }
    return known;
}

static void skinny_avx2(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
                        size_t ldw, float *y, size_t ldy);

// `avx512` is trusted: the caller has checked the CPU (uses_avx512 decides once).
static void dispatch(int avx512, size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx,
                     const float *w, size_t ldw, float *y, size_t ldy) {
#ifdef DL_HAVE_AVX512_PATH
    if (avx512) {
        skinny512(rows, outputs, inputs, x, ldx, w, ldw, y, ldy);
        return;
    }
#endif
    skinny_avx2(rows, outputs, inputs, x, ldx, w, ldw, y, ldy);
}

void dl_skinny_sgemm_nt(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
                        size_t ldw, float *y, size_t ldy) {
    dispatch(dl_skinny_sgemm_uses_avx512(), rows, outputs, inputs, x, ldx, w, ldw, y, ldy);
}

void dl_skinny_sgemm_nt_kernel(int avx512, size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx,
                               const float *w, size_t ldw, float *y, size_t ldy) {
    dispatch(avx512 && dl_skinny_sgemm_has_avx512(), rows, outputs, inputs, x, ldx, w, ldw, y, ldy);
}

static void skinny_avx2(size_t rows, size_t outputs, size_t inputs, const float *x, size_t ldx, const float *w,
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
