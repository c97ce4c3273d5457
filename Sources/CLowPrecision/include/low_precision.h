#ifndef DL_LOW_PRECISION_H
#define DL_LOW_PRECISION_H

#include <stddef.h>
#include <stdint.h>

/// Products in bfloat16 and int8 over oneDNN (Debian's libdnnl), and the conversions around
/// them. Every product computes y[rows × outputs] = x[rows × inputs] · Wᵀ with W row-major
/// (outputs × inputs, PyTorch's layout), on the calling thread only: callers split rows across
/// their own threads, so oneDNN's OpenMP team is held to one thread per call.

/// A bfloat16 product with fixed weights: oneDNN's matmul primitive (rows given at run time),
/// its weights reordered once into the layout it wants. Opaque; owned by the Swift wrapper.
typedef struct dl_bf16_product dl_bf16_product;

/// Makes the product for `weight` (outputs × inputs floats, rounded to bfloat16 here). NULL
/// when oneDNN has no bfloat16 matmul for this CPU (or the ISA it is held to); `reason` then
/// holds oneDNN's status.
dl_bf16_product *dl_bf16_product_create(size_t inputs, size_t outputs, const float *weight, char *reason,
                                        size_t reason_length);
void dl_bf16_product_destroy(dl_bf16_product *product);

/// y = x · Wᵀ (y overwritten, row stride ldy) for `rows` rows of bfloat16 `x` (row stride
/// inputs). Safe to call from several threads at once. Returns 0, or oneDNN's status.
int dl_bf16_product_run(const dl_bf16_product *product, const uint16_t *x, size_t rows, float *y, size_t ldy);

/// c[rows × outputs] (int32) = a · wᵀ, a unsigned 8-bit (rows × inputs), w signed 8-bit (outputs
/// × inputs): oneDNN's integer GEMM. Returns 0, or oneDNN's status.
int dl_gemm_u8s8(size_t rows, size_t outputs, size_t inputs, const uint8_t *a, const int8_t *w, int32_t *c);

/// Rounds floats to bfloat16 (round to nearest even; NaN kept a NaN).
void dl_to_bf16(const float *x, uint16_t *out, size_t count);
/// Widens bfloat16 to float (exact).
void dl_from_bf16(const uint16_t *x, float *out, size_t count);

/// Quantizes each row of x (rows × inputs, stride ldx) to unsigned integers in [0, levels]
/// with the row's own scale and zero point (asymmetric, zero exactly representable):
/// x ≈ scale[r] · (q − zero[r]). levels is 255 where the CPU multiplies u8 × s8 exactly
/// (VNNI) and 127 where the 16-bit intermediate sums of older instruction sets could saturate.
void dl_quantize_rows(const float *x, size_t rows, size_t inputs, size_t ldx, int levels, uint8_t *q,
                      float *scale, int32_t *zero);

/// y[r, o] = scale[r] · wscale[o] · (c[r, o] − zero[r] · wsum[o]) + bias[o]: undoes the
/// quantization of an integer product (wsum: each output's sum of its int8 weights).
void dl_dequantize_rows(const int32_t *c, size_t rows, size_t outputs, const float *scale, const int32_t *zero,
                        const float *wscale, const int32_t *wsum, const float *bias, float *y, size_t ldy);

/// The instruction set oneDNN runs on here, e.g. "avx512_core_bf16" (its CPU dispatch, held
/// down by ONEDNN_MAX_CPU_ISA), and whether that set multiplies int8 with VNNI / has bfloat16.
const char *dl_onednn_isa(void);
int dl_onednn_has_vnni(void);
int dl_onednn_has_bf16(void);

#endif
