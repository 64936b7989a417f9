/*
 * webvcm's WebAssembly SIMD128 kernels: convolution, transposed convolution, GEMM and GDN for the wasm backend
 * (src/wasm/backend.ts). Built by tools/build-wasm.mjs with Debian's clang (wasm32, -msimd128, no libc).
 *
 * Everything is one GEMM: C[M][N] = A[M][K] · B[K][N] (+ epilogue), with
 *   - A packed once per model (prepare time) into row blocks of MR: A_pk[M/MR][K][MR],
 *   - B packed per call, a tile of NC columns at a time, into column panels of NR: B_pk[NC/NR][K][NR],
 *   - an MR×NR register micro-kernel: NR/4 vectors of B times MR broadcast weights, multiply then add
 *     (no FMA: SIMD128 has none, and the result does not depend on the host CPU).
 * Convolution: M = OC, K = C·KH·KW, N = OH·OW; B is im2col of the input, written straight into the panel layout
 * one NC tile at a time (cache blocking: the tile stays in L2 while every row block of A runs over it).
 * Transposed convolution: M = OC·KH·KW, K = C, N = H·W; then col2im scatter-adds the tile into the output.
 * GDN: the 1×1 "convolution" of x² with gamma (bias beta), epilogue x·rsqrt(norm) or x·sqrt(norm).
 *
 * Work is split by column tiles [t0, t1) so that several threads (workers on one shared memory) can share a call;
 * each thread passes its own scratch.
 */
#include <wasm_simd128.h>

typedef float f32;
typedef int i32;

#ifndef MR
#define MR 4
#endif
#ifndef NV
#define NV 2
#endif
#define NR (4 * NV)

#define EXPORT(name) __attribute__((export_name(#name)))

enum { EPI_NONE = 0, EPI_RELU = 1, EPI_GDN = 2, EPI_IGDN = 3 };

/* ---- packing ---------------------------------------------------------------------------------------------------- */

/* A [M][K] row-major (row stride lda, column stride 1) → A_pk[ceil(M/MR)][K][MR], zero rows past M. */
EXPORT(pack_a)
void pack_a(const f32 *a, i32 M, i32 K, i32 lda, f32 *out) {
  for (i32 m0 = 0; m0 < M; m0 += MR) {
    for (i32 k = 0; k < K; k++)
      for (i32 i = 0; i < MR; i++) *out++ = m0 + i < M ? a[(m0 + i) * lda + k] : 0.0f;
  }
}

/* Transposed-conv weights [C][OC][KH][KW] → A[M = OC·KH·KW][K = C] packed. */
EXPORT(pack_a_deconv)
void pack_a_deconv(const f32 *w, i32 C, i32 OC, i32 KK, f32 *out) {
  const i32 M = OC * KK;
  for (i32 m0 = 0; m0 < M; m0 += MR) {
    for (i32 c = 0; c < C; c++)
      for (i32 i = 0; i < MR; i++) {
        const i32 m = m0 + i;
        *out++ = m < M ? w[(c * OC + m / KK) * KK + m % KK] : 0.0f;
      }
  }
}

/* B = rows [k0, k0 + kc) of x [K][N] (1×1 conv, stride 1), columns [n0, n0 + nc) → panels [nc/NR][kc][NR];
 * `square` packs x² (GDN). */
static void pack_b_rows(const f32 *x, i32 N, i32 k0, i32 kc, i32 n0, i32 nc, i32 square, f32 *out) {
  for (i32 p0 = 0; p0 < nc; p0 += NR) {
    const i32 n = n0 + p0, cnt = nc - p0 < NR ? nc - p0 : NR;
    for (i32 k = k0; k < k0 + kc; k++) {
      const f32 *src = x + (long)k * N + n;
      if (cnt == NR) {
        for (i32 j = 0; j < NV; j++) {
          v128_t v = wasm_v128_load(src + 4 * j);
          if (square) v = wasm_f32x4_mul(v, v);
          wasm_v128_store(out + 4 * j, v);
        }
      } else {
        for (i32 j = 0; j < NR; j++) {
          const f32 v = j < cnt ? src[j] : 0.0f;
          out[j] = square ? v * v : v;
        }
      }
      out += NR;
    }
  }
}

/* im2col of x [C][H][W], rows k = (c·KH + ky)·KW + kx in [k0, k0 + kc), output columns [n0, n0 + nc) (OW wide)
 * → panels [nc/NR][kc][NR]. */
static void pack_b_im2col(const f32 *x, i32 H, i32 W, i32 KH, i32 KW, i32 stride, i32 pad, i32 OW, i32 k0, i32 kc,
                          i32 n0, i32 nc, f32 *out) {
  i32 iy0[NR], ix0[NR], ok[NR];
  const i32 KK = KH * KW;
  for (i32 p0 = 0; p0 < nc; p0 += NR) {
    for (i32 j = 0; j < NR; j++) {
      const i32 n = n0 + p0 + j;
      ok[j] = p0 + j < nc;
      const i32 oy = ok[j] ? n / OW : 0, ox = ok[j] ? n % OW : 0;
      iy0[j] = oy * stride - pad;
      ix0[j] = ox * stride - pad;
    }
    i32 c = k0 / KK, ky = (k0 % KK) / KW, kx = k0 % KW;
    for (i32 k = 0; k < kc; k++) {
      const f32 *xc = x + (long)c * H * W;
      for (i32 j = 0; j < NR; j++) {
        const i32 iy = iy0[j] + ky, ix = ix0[j] + kx;
        out[j] = (ok[j] && (unsigned)iy < (unsigned)H && (unsigned)ix < (unsigned)W) ? xc[iy * W + ix] : 0.0f;
      }
      out += NR;
      if (++kx == KW) { kx = 0; if (++ky == KH) { ky = 0; c++; } }
    }
  }
}

/* ---- micro-kernel ----------------------------------------------------------------------------------------------- */

/*
 * One MR×NR block of C over a K block: acc = (first ? bias : C) + A block (kc×MR) · B panel (kc×NR); stored to c
 * (row stride ldc) for rows < mrows and columns < ncols, through the epilogue when `last`. `aux` (laid out as c):
 * the residual (EPI_NONE / EPI_RELU) or x (GDN).
 */
static void micro(const f32 *a, const f32 *b, i32 kc, const f32 *bias, f32 *c, i32 ldc, i32 mrows, i32 ncols,
                  const f32 *aux, i32 epi, i32 first, i32 last) {
  v128_t acc[MR][NV];
  const i32 full = ncols == NR;
  for (i32 i = 0; i < MR; i++) {
    if (first || i >= mrows) {
      for (i32 j = 0; j < NV; j++) acc[i][j] = wasm_f32x4_splat(bias && i < mrows ? bias[i] : 0.0f);
    } else if (full) {
      for (i32 j = 0; j < NV; j++) acc[i][j] = wasm_v128_load(c + (long)i * ldc + 4 * j);
    } else {
      f32 t[NR] = {0};
      for (i32 j = 0; j < ncols; j++) t[j] = c[(long)i * ldc + j];
      for (i32 j = 0; j < NV; j++) acc[i][j] = wasm_v128_load(t + 4 * j);
    }
  }
  for (i32 k = 0; k < kc; k++) {
    v128_t bv[NV];
    for (i32 j = 0; j < NV; j++) bv[j] = wasm_v128_load(b + 4 * j);
    for (i32 i = 0; i < MR; i++) {
      const v128_t w = wasm_v128_load32_splat(a + i);
      for (i32 j = 0; j < NV; j++) acc[i][j] = wasm_f32x4_add(acc[i][j], wasm_f32x4_mul(bv[j], w));
    }
    a += MR;
    b += NR;
  }
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (i32 i = 0; i < mrows; i++) {
    f32 *row = c + (long)i * ldc;
    const f32 *arow = aux ? aux + (long)i * ldc : 0;
    if (full) {
      for (i32 h = 0; h < NV; h++) {
        v128_t v = acc[i][h];
        if (last) {
          if (epi == EPI_GDN || epi == EPI_IGDN) {
            const v128_t s = wasm_f32x4_sqrt(v), xv = wasm_v128_load(arow + 4 * h);
            v = epi == EPI_GDN ? wasm_f32x4_div(xv, s) : wasm_f32x4_mul(xv, s);
          } else {
            if (arow) v = wasm_f32x4_add(v, wasm_v128_load(arow + 4 * h));
            if (epi == EPI_RELU) v = wasm_f32x4_max(v, zero);
          }
        }
        wasm_v128_store(row + 4 * h, v);
      }
    } else {
      f32 t[NR];
      for (i32 j = 0; j < NV; j++) wasm_v128_store(t + 4 * j, acc[i][j]);
      for (i32 j = 0; j < ncols; j++) {
        f32 v = t[j];
        if (last) {
          if (epi == EPI_GDN || epi == EPI_IGDN) {
            const f32 s = __builtin_sqrtf(v);
            v = epi == EPI_GDN ? arow[j] / s : arow[j] * s;
          } else {
            if (arow) v += arow[j];
            if (epi == EPI_RELU) v = __builtin_wasm_max_f32(v, 0.0f);
          }
        }
        row[j] = v;
      }
    }
  }
}

/* All row blocks of A (columns [k0, k0 + kc) of each packed block) over the packed tile of nc columns. */
static void gemm_tile(const f32 *apk, i32 M, i32 K, i32 k0, i32 kc, const f32 *bpk, i32 nc, const f32 *bias, f32 *c,
                      i32 ldc, const f32 *aux, i32 epi) {
  const i32 first = k0 == 0, last = k0 + kc == K;
  for (i32 m0 = 0; m0 < M; m0 += MR) {
    const f32 *a = apk + (long)m0 * K + (long)k0 * MR;
    const i32 mrows = M - m0 < MR ? M - m0 : MR;
    for (i32 p0 = 0; p0 < nc; p0 += NR) {
      const i32 ncols = nc - p0 < NR ? nc - p0 : NR;
      const long off = (long)m0 * ldc + p0;
      micro(a, bpk + (long)p0 * kc, kc, bias ? bias + m0 : 0, c + off, ldc, mrows, ncols, aux ? aux + off : 0, epi,
            first, last);
    }
  }
}

/* ---- public entry points ---------------------------------------------------------------------------------------- */

/* Cache blocking: K blocks of KC rows; column tiles of NC (the packed KC×NC tile, 192 KiB, stays in L2 while every
 * row block of A runs over it; one A block, MR×KC, stays in L1). */
#define KC 256
#define NC 192

/* Rows per packed block of A (the size of a packed A is ceil(M / MR)·MR·K floats). */
EXPORT(block_rows)
i32 block_rows(void) { return MR; }

EXPORT(tile_cols)
i32 tile_cols(void) { return NC; }

/* Scratch floats one thread needs: conv2d / gemm, and deconv2d (the packed tile + the M×NC column tile). */
EXPORT(conv_scratch)
i32 conv_scratch(void) { return KC * NC; }
EXPORT(deconv_scratch)
i32 deconv_scratch(i32 M) { return KC * NC + M * NC; }

/*
 * Convolution (or GDN): out[OC][OH·OW] from x[C][H][W], weights packed by pack_a (M = OC, K = C·KH·KW), for the
 * column tiles [t0, t1) of NC columns and the output channels [oc0, oc1) (oc0 a multiple of MR): threads split a
 * call by tiles, or by channels when there are fewer tiles than threads. aux: the residual or (GDN) x, laid out as
 * out. epi: EPI_*. GDN packs x².
 */
EXPORT(conv2d)
void conv2d(const f32 *x, i32 C, i32 H, i32 W, const f32 *apk, const f32 *bias, i32 OC, i32 KH, i32 KW, i32 stride,
            i32 pad, f32 *out, i32 OH, i32 OW, const f32 *aux, i32 epi, i32 t0, i32 t1, i32 oc0, i32 oc1,
            f32 *scratch) {
  const i32 K = C * KH * KW, N = OH * OW;
  const i32 direct = KH == 1 && KW == 1 && stride == 1 && pad == 0;
  const i32 square = epi == EPI_GDN || epi == EPI_IGDN;
  const long rows = (long)oc0 * N;
  (void)OC;
  for (i32 t = t0; t < t1; t++) {
    const i32 n0 = t * NC;
    if (n0 >= N) break;
    const i32 nc = N - n0 < NC ? N - n0 : NC;
    for (i32 k0 = 0; k0 < K; k0 += KC) {
      const i32 kc = K - k0 < KC ? K - k0 : KC;
      if (direct) pack_b_rows(x, N, k0, kc, n0, nc, square, scratch);
      else pack_b_im2col(x, H, W, KH, KW, stride, pad, OW, k0, kc, n0, nc, scratch);
      gemm_tile(apk + (long)oc0 * K, oc1 - oc0, K, k0, kc, scratch, nc, bias ? bias + oc0 : 0, out + rows + n0, N,
                aux ? aux + rows + n0 : 0, epi);
    }
  }
}

/*
 * Transposed convolution in col2im form, for output channels [oc0, oc1) (oc0 a multiple of MR): per input column
 * tile, col[M = (oc1 − oc0)·KH·KW][nc] = A rows of those channels · x, then scatter-add into `out`, which holds the
 * bias already (fill_bias). Tiles scatter into overlapping output pixels, so threads split by output channels.
 */
EXPORT(deconv2d)
void deconv2d(const f32 *x, i32 C, i32 H, i32 W, const f32 *apk, i32 OC, i32 KH, i32 KW, i32 stride, i32 pad,
              f32 *out, i32 OH, i32 OW, i32 oc0, i32 oc1, f32 *scratch) {
  const i32 N = H * W, KK = KH * KW, M = (oc1 - oc0) * KK;
  const f32 *a = apk + (long)oc0 * KK * C;
  f32 *bpk = scratch, *col = scratch + KC * NC;
  (void)OC;
  for (i32 n0 = 0; n0 < N; n0 += NC) {
    const i32 nc = N - n0 < NC ? N - n0 : NC;
    for (i32 k0 = 0; k0 < C; k0 += KC) {
      const i32 kc = C - k0 < KC ? C - k0 : KC;
      pack_b_rows(x, N, k0, kc, n0, nc, 0, bpk);
      gemm_tile(a, M, C, k0, kc, bpk, nc, 0, col, NC, 0, EPI_NONE);
    }
    for (i32 m = 0; m < M; m++) {
      const i32 oc = oc0 + m / KK, ky = (m % KK) / KW, kx = m % KW;
      const f32 *src = col + (long)m * NC;
      f32 *dst = out + (long)oc * OH * OW;
      i32 iy = n0 / W, ix = n0 % W;
      for (i32 j = 0; j < nc; j++) {
        const i32 oy = iy * stride - pad + ky, ox = ix * stride - pad + kx;
        if ((unsigned)oy < (unsigned)OH && (unsigned)ox < (unsigned)OW) dst[oy * OW + ox] += src[j];
        if (++ix == W) { ix = 0; iy++; }
      }
    }
  }
}

/* out[oc][·] = bias[oc] (0 without a bias). */
EXPORT(fill_bias)
void fill_bias(f32 *out, const f32 *bias, i32 OC, i32 HW) {
  for (i32 oc = 0; oc < OC; oc++) {
    const f32 b = bias ? bias[oc] : 0.0f;
    const v128_t v = wasm_f32x4_splat(b);
    f32 *o = out + (long)oc * HW;
    i32 i = 0;
    for (; i + 4 <= HW; i += 4) wasm_v128_store(o + i, v);
    for (; i < HW; i++) o[i] = b;
  }
}

/* out = max(out + res, 0) (res may be null; relu 0 skips the max), n values. */
EXPORT(epilogue)
void epilogue(f32 *out, const f32 *res, i32 n, i32 relu) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  i32 i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(out + i);
    if (res) v = wasm_f32x4_add(v, wasm_v128_load(res + i));
    if (relu) v = wasm_f32x4_max(v, zero);
    wasm_v128_store(out + i, v);
  }
  for (; i < n; i++) {
    f32 v = out[i];
    if (res) v += res[i];
    if (relu) v = __builtin_wasm_max_f32(v, 0.0f);
    out[i] = v;
  }
}

/* GEMM C[M][N] = A_pk · B (+ bias per row, optional ReLU), B row-major [K][N]. */
EXPORT(gemm)
void gemm(const f32 *apk, i32 M, i32 K, const f32 *b, i32 N, const f32 *bias, f32 *c, i32 relu, f32 *scratch) {
  conv2d(b, K, 1, N, apk, bias, M, 1, 1, 1, 0, c, 1, N, 0, relu ? EPI_RELU : EPI_NONE, 0, (N + NC - 1) / NC, 0, M,
         scratch);
}

/* Max pooling k×k, stride s, padding p (padding never wins: a window wholly outside gives −∞); NaN propagates as in
 * Math.max. x [C][H][W] → out [C][OH][OW]. Per output row: the max over the window's input rows, 4 columns at a
 * time (rows are contiguous), then the max over each window's columns of that row. */
#define POOL_ROW_MAX 4096
EXPORT(maxpool2d)
void maxpool2d(const f32 *x, i32 C, i32 H, i32 W, i32 k, i32 s, i32 p, f32 *out, i32 OH, i32 OW) {
  f32 rowmax[POOL_ROW_MAX];
  const v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  for (i32 c = 0; c < C; c++) {
    const f32 *xc = x + (long)c * H * W;
    for (i32 oy = 0; oy < OH; oy++) {
      const i32 y0 = oy * s - p;
      const i32 ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + k > H ? H - y0 : k;
      if (W <= POOL_ROW_MAX) {
        i32 i = 0;
        for (; i + 4 <= W; i += 4) {
          v128_t m = ninf;
          for (i32 ky = ky0; ky < ky1; ky++) m = wasm_f32x4_max(m, wasm_v128_load(xc + (long)(y0 + ky) * W + i));
          wasm_v128_store(rowmax + i, m);
        }
        for (; i < W; i++) {
          f32 m = -__builtin_inff();
          for (i32 ky = ky0; ky < ky1; ky++) m = __builtin_wasm_max_f32(m, xc[(long)(y0 + ky) * W + i]);
          rowmax[i] = m;
        }
      }
      for (i32 ox = 0; ox < OW; ox++) {
        const i32 x0 = ox * s - p;
        const i32 kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + k > W ? W - x0 : k;
        f32 m = -__builtin_inff();
        if (W <= POOL_ROW_MAX) {
          for (i32 kx = kx0; kx < kx1; kx++) m = __builtin_wasm_max_f32(m, rowmax[x0 + kx]);
        } else {
          for (i32 ky = ky0; ky < ky1; ky++)
            for (i32 kx = kx0; kx < kx1; kx++) m = __builtin_wasm_max_f32(m, xc[(long)(y0 + ky) * W + x0 + kx]);
        }
        *out++ = m;
      }
    }
  }
}
