#include "low_precision.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One thread per call: libgomp's omp_set_num_threads sets the calling thread's own count (an
// OpenMP ICV of that thread). Looked up at run time in the libgomp that libdnnl brought in, so
// that the build needs no libgomp development link.
static void (*set_threads)(int) = NULL;
static void find_set_threads(void) { set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads"); }
static void one_thread_here(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, find_set_threads);
    if (set_threads) set_threads(1);
}

struct dl_bf16_product {
    dnnl_engine_t engine;
    dnnl_primitive_t primitive;
    dnnl_memory_t weights;       // reordered, owned
    dnnl_memory_desc_t scratch;  // per call: the primitive's scratchpad is the caller's
    size_t inputs, outputs;
};

static dnnl_engine_t engine = NULL;
static void make_engine(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}
static dnnl_engine_t shared_engine(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_engine);
    return engine;
}

static void say(char *reason, size_t length, const char *what, dnnl_status_t status) {
    if (reason && length) snprintf(reason, length, "%s: oneDNN status %d", what, (int)status);
}

dl_bf16_product *dl_bf16_product_create(size_t inputs, size_t outputs, const float *weight, char *reason,
                                        size_t reason_length) {
    dnnl_engine_t engine = shared_engine();
    if (!engine) {
        say(reason, reason_length, "no CPU engine", dnnl_runtime_error);
        return NULL;
    }
    dnnl_status_t s;
    dnnl_memory_desc_t src, wany, wplain, dst;
    dnnl_dims_t sd = {DNNL_RUNTIME_DIM_VAL, (dnnl_dim_t)inputs};
    dnnl_dims_t wd = {(dnnl_dim_t)inputs, (dnnl_dim_t)outputs};
    dnnl_dims_t dd = {DNNL_RUNTIME_DIM_VAL, (dnnl_dim_t)outputs};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_bf16, dnnl_format_tag_any);
    // W is outputs × inputs row-major: as the K × N matrix matmul takes, that is "ba".
    dnnl_memory_desc_init_by_tag(&wplain, 2, wd, dnnl_bf16, dnnl_ba);
    dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    if ((s = dnnl_matmul_desc_init(&desc, &src, &wany, NULL, &dst)) != dnnl_success) {
        say(reason, reason_length, "matmul description", s);
        return NULL;
    }
    dnnl_primitive_attr_t attr;
    dnnl_primitive_attr_create(&attr);
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_primitive_desc_t pd;
    s = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        say(reason, reason_length, "no bfloat16 matmul on this CPU", s);
        return NULL;
    }
    dl_bf16_product *p = calloc(1, sizeof *p);
    p->engine = engine;
    p->inputs = inputs;
    p->outputs = outputs;
    p->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const dnnl_memory_desc_t *wwant = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if ((s = dnnl_primitive_create(&p->primitive, pd)) != dnnl_success) goto fail;
    if ((s = dnnl_memory_create(&p->weights, wwant, engine, DNNL_MEMORY_ALLOCATE)) != dnnl_success) goto fail;
    {
        // Round the weights to bfloat16, then reorder them into the primitive's layout.
        size_t count = inputs * outputs;
        uint16_t *plain = malloc(count * sizeof *plain);
        dl_to_bf16(weight, plain, count);
        dnnl_memory_t from;
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t reorder;
        dnnl_stream_t stream;
        s = dnnl_memory_create(&from, &wplain, engine, plain);
        if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&rpd, &wplain, engine, wwant, engine, NULL);
        if (s == dnnl_success) s = dnnl_primitive_create(&reorder, rpd);
        if (s == dnnl_success) s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
        if (s == dnnl_success) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, p->weights}};
            s = dnnl_primitive_execute(reorder, stream, 2, args);
            dnnl_stream_wait(stream);
            dnnl_stream_destroy(stream);
            dnnl_primitive_destroy(reorder);
            dnnl_primitive_desc_destroy(rpd);
        }
        dnnl_memory_destroy(from);
        free(plain);
        if (s != dnnl_success) goto fail;
    }
    dnnl_primitive_desc_destroy(pd);
    return p;
fail:
    say(reason, reason_length, "bfloat16 weights", s);
    dnnl_primitive_desc_destroy(pd);
    dl_bf16_product_destroy(p);
    return NULL;
}

void dl_bf16_product_destroy(dl_bf16_product *p) {
    if (!p) return;
    if (p->weights) dnnl_memory_destroy(p->weights);
    if (p->primitive) dnnl_primitive_destroy(p->primitive);
    free(p);
}

int dl_bf16_product_run(const dl_bf16_product *p, const uint16_t *x, size_t rows, float *y, size_t ldy) {
    one_thread_here();
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t sd = {(dnnl_dim_t)rows, (dnnl_dim_t)p->inputs};
    dnnl_dims_t dd = {(dnnl_dim_t)rows, (dnnl_dim_t)p->outputs};
    dnnl_dims_t strides = {(dnnl_dim_t)ldy, 1};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, strides);
    dnnl_memory_t a = NULL, c = NULL, scratch = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t s = dnnl_memory_create(&a, &src, p->engine, (void *)x);
    if (s == dnnl_success) s = dnnl_memory_create(&c, &dst, p->engine, y);
    if (s == dnnl_success) s = dnnl_memory_create(&scratch, &p->scratch, p->engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success) s = dnnl_stream_create(&stream, p->engine, dnnl_stream_default_flags);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, scratch}};
        s = dnnl_primitive_execute(p->primitive, stream, 4, args);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (scratch) dnnl_memory_destroy(scratch);
    if (c) dnnl_memory_destroy(c);
    if (a) dnnl_memory_destroy(a);
    return (int)s;
}

int dl_gemm_u8s8(size_t rows, size_t outputs, size_t inputs, const uint8_t *a, const int8_t *w, int32_t *c) {
    one_thread_here();
    int32_t offset = 0;
    return (int)dnnl_gemm_u8s8s32('N', 'T', 'F', (dnnl_dim_t)rows, (dnnl_dim_t)outputs, (dnnl_dim_t)inputs, 1.0f, a,
                                  (dnnl_dim_t)inputs, 0, w, (dnnl_dim_t)inputs, 0, 0.0f, c, (dnnl_dim_t)outputs,
                                  &offset);
}

void dl_to_bf16(const float *x, uint16_t *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) {
            out[i] = (uint16_t)((bits >> 16) | 0x40);  // NaN stays a (quiet) NaN
        } else {
            bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
            out[i] = (uint16_t)(bits >> 16);
        }
    }
}

void dl_from_bf16(const uint16_t *x, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)x[i] << 16;
        memcpy(&out[i], &bits, 4);
    }
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static float horizontal(__m256 v, int maximum) {
    __m128 a = _mm256_castps256_ps128(v), b = _mm256_extractf128_ps(v, 1);
    a = maximum ? _mm_max_ps(a, b) : _mm_min_ps(a, b);
    b = _mm_movehl_ps(a, a);
    a = maximum ? _mm_max_ps(a, b) : _mm_min_ps(a, b);
    b = _mm_shuffle_ps(a, a, 1);
    a = maximum ? _mm_max_ss(a, b) : _mm_min_ss(a, b);
    return _mm_cvtss_f32(a);
}
#endif

// Rounds to nearest, ties to even (the current rounding mode), as _mm256_round_ps does below.
static inline float quantized(float x, float inverse, float zero, float top) {
    float v = nearbyintf(x * inverse) + zero;
    return v < 0 ? 0 : (v > top ? top : v);
}

void dl_quantize_rows(const float *x, size_t rows, size_t inputs, size_t ldx, int levels, uint8_t *q, float *scale,
                      int32_t *zero) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        float lo = 0, hi = 0;  // zero is always representable
        size_t k = 0;
#if defined(__AVX2__) && defined(__FMA__)
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        for (; k + 8 <= inputs; k += 8) {
            __m256 v = _mm256_loadu_ps(row + k);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        lo = horizontal(vlo, 0);
        hi = horizontal(vhi, 1);
#endif
        for (; k < inputs; k++) {
            lo = row[k] < lo ? row[k] : lo;
            hi = row[k] > hi ? row[k] : hi;
        }
        float s = (hi - lo) / (float)levels;
        if (!(s > 0)) s = 1;  // an all-zero row (or NaN: it then stays NaN through the scale)
        float inverse = 1.0f / s;
        int32_t z = (int32_t)lrintf(-lo * inverse);
        if (z < 0) z = 0;
        if (z > levels) z = levels;
        uint8_t *out = q + r * inputs;
        float zf = (float)z, top = (float)levels;
        k = 0;
#if defined(__AVX2__) && defined(__FMA__)
        const __m256 vinverse = _mm256_set1_ps(inverse), vzero = _mm256_set1_ps(zf), vtop = _mm256_set1_ps(top);
        const __m256 floor = _mm256_setzero_ps();
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (; k + 32 <= inputs; k += 32) {
            __m256i w[4];
            for (int i = 0; i < 4; i++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + k + 8 * i), vinverse);
                v = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vzero);
                v = _mm256_min_ps(_mm256_max_ps(v, floor), vtop);
                w[i] = _mm256_cvtps_epi32(v);
            }
            // 32 int32 → 32 u8; the packs work per 128-bit lane, the permute puts them in order.
            __m256i h = _mm256_packus_epi32(w[0], w[1]), l = _mm256_packus_epi32(w[2], w[3]);
            __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(h, l), order);
            _mm256_storeu_si256((__m256i *)(out + k), b);
        }
#endif
        for (; k < inputs; k++) out[k] = (uint8_t)quantized(row[k], inverse, zf, top);
        scale[r] = s;
        zero[r] = z;
    }
}

void dl_dequantize_rows(const int32_t *c, size_t rows, size_t outputs, const float *scale, const int32_t *zero,
                        const float *wscale, const int32_t *wsum, const float *bias, float *y, size_t ldy) {
    for (size_t r = 0; r < rows; r++) {
        const int32_t *in = c + r * outputs;
        float *out = y + r * ldy;
        float s = scale[r];
        int32_t z = zero[r];
        for (size_t o = 0; o < outputs; o++) {
            out[o] = s * wscale[o] * (float)(in[o] - z * wsum[o]) + bias[o];
        }
    }
}

const char *dl_onednn_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

int dl_onednn_has_vnni(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx2_vnni || isa == dnnl_cpu_isa_avx512_core_vnni ||
           isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

int dl_onednn_has_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}
