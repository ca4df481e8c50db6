/* The recurrent ops' per-timestep elementwise kernels (rnn_kernels.h), written
 * once as plain loops and compiled for AVX-512, AVX2 + FMA and baseline x86-64. */
/* fp-contract: fuse multiply-adds where the target has FMA (ISO C mode keeps
 * them apart). no-trapping-math: lets GCC turn vmath.h's clamps and selects into
 * vector blends; without it the loops stay scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#define RK_IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define RK_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define RK_IVDEP
#endif
#include <stdbool.h>
#include <string.h>

#include "core/vmath.h"
#include "ops/rnn_kernels.h"

#define KINLINE static inline __attribute__((always_inline))

/* Each kernel is one pass over a row's u columns reading all G gates, so a step
 * touches its gate block once. The bool parameters are constants at every call
 * (see rows()), so each combination compiles to its own branch-free loop.
 * `ivdep`: a row's gate blocks and the buffers written are disjoint, which GCC
 * cannot prove; without it it wants more run-time alias checks than it allows
 * and leaves the LSTM and GRU loops scalar. */

KINLINE void simple_fwd(const px_rnn_step *s, int64_t b, bool has_bias) {
    const int64_t u = s->u;
    float *restrict p = s->p + b * s->ldp, *restrict h = s->h + b * s->ldy;
    const float *restrict bias = s->bias;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float v = px_vm_tanh(has_bias ? p[j] + bias[j] : p[j]);
        p[j] = v;
        h[j] = v;
    }
}

KINLINE void lstm_fwd(const px_rnn_step *s, int64_t b, bool has_bias, bool has_cp) {
    const int64_t u = s->u;
    float *restrict p = s->p + b * s->ldp, *restrict c = s->x2 + b * s->ldh, *restrict h = s->h + b * s->ldy;
    const float *restrict cp = has_cp ? s->cp + b * s->ldh : NULL;
    const float *restrict bias = s->bias;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float zi = p[j], zf = p[u + j], zc = p[2 * u + j], zo = p[3 * u + j];
        if (has_bias) zi += bias[j], zf += bias[u + j], zc += bias[2 * u + j], zo += bias[3 * u + j];
        float ig = px_vm_sigmoid(zi), fg = px_vm_sigmoid(zf), cg = px_vm_tanh(zc), og = px_vm_sigmoid(zo);
        float cv = has_cp ? fg * cp[j] + ig * cg : ig * cg;
        p[j] = ig, p[u + j] = fg, p[2 * u + j] = cg, p[3 * u + j] = og;
        c[j] = cv;
        h[j] = og * px_vm_tanh(cv);
    }
}

KINLINE void gru_fwd(const px_rnn_step *s, int64_t b, bool has_bias, bool has_brec) {
    const int64_t u = s->u;
    float *restrict p = s->p + b * s->ldp, *restrict x2 = s->x2 + b * s->ldh, *restrict h = s->h + b * s->ldy;
    const float *restrict hp = s->hp + b * s->ldh, *restrict rec = s->rec + b * s->ldrec;
    const float *restrict bias = s->bias, *restrict brec = s->brec;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float rz = rec[j], rr = rec[u + j], rh = rec[2 * u + j];
        if (has_brec) rz += brec[j], rr += brec[u + j], rh += brec[2 * u + j];
        float pz = p[j], pr = p[u + j], ph = p[2 * u + j];
        if (has_bias) pz += bias[j], pr += bias[u + j], ph += bias[2 * u + j];
        float z = px_vm_sigmoid(pz + rz), r = px_vm_sigmoid(pr + rr), hh = px_vm_tanh(ph + r * rh);
        p[j] = z, p[u + j] = r, p[2 * u + j] = hh;
        x2[j] = rh;
        h[j] = z * hp[j] + (1.0f - z) * hh;
    }
}

KINLINE void grub_gates(const px_rnn_step *s, int64_t b, bool has_bias) {
    const int64_t u = s->u;
    float *restrict p = s->p + b * s->ldp, *restrict x2 = s->x2 + b * s->ldh;
    const float *restrict hp = s->hp + b * s->ldh, *restrict bias = s->bias;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float pz = p[j], pr = p[u + j];
        if (has_bias) pz += bias[j], pr += bias[u + j];
        float z = px_vm_sigmoid(pz), r = px_vm_sigmoid(pr);
        p[j] = z, p[u + j] = r;
        x2[j] = r * hp[j];
    }
}

KINLINE void grub_cand(const px_rnn_step *s, int64_t b, bool has_bias) {
    const int64_t u = s->u;
    float *restrict p = s->p + b * s->ldp, *restrict h = s->h + b * s->ldy;
    const float *restrict hp = s->hp + b * s->ldh, *restrict bias = s->bias;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float hh = px_vm_tanh(has_bias ? p[2 * u + j] + bias[2 * u + j] : p[2 * u + j]);
        p[2 * u + j] = hh;
        h[j] = p[j] * hp[j] + (1.0f - p[j]) * hh;
    }
}

KINLINE void simple_bwd(const px_rnn_step *s, int64_t b) {
    const int64_t u = s->u;
    const float *restrict p = s->p + b * s->ldp, *restrict gh = s->gh + b * s->ldy;
    float *restrict dh = s->dh + b * u, *restrict z = s->z + b * s->ldp;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float d = dh[j] + gh[j];
        dh[j] = d;
        z[j] = d * (1.0f - p[j] * p[j]);
    }
}

/* tanh(c) is recomputed rather than stored: with the vector tanh that costs
 * less than writing and reading back another (B T, u) buffer. */
KINLINE void lstm_bwd(const px_rnn_step *s, int64_t b, bool has_cp) {
    const int64_t u = s->u;
    const float *restrict p = s->p + b * s->ldp, *restrict c = s->x2 + b * s->ldh, *restrict gh = s->gh + b * s->ldy;
    const float *restrict cp = has_cp ? s->cp + b * s->ldh : NULL;
    float *restrict dh = s->dh + b * u, *restrict dc = s->dc + b * u, *restrict z = s->z + b * s->ldp;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float ig = p[j], fg = p[u + j], cg = p[2 * u + j], og = p[3 * u + j];
        float d = dh[j] + gh[j];
        float tc = px_vm_tanh(c[j]);
        float dcc = dc[j] + d * og * (1.0f - tc * tc);
        z[j] = dcc * cg * ig * (1.0f - ig);
        z[u + j] = has_cp ? dcc * cp[j] * fg * (1.0f - fg) : 0.0f;
        z[2 * u + j] = dcc * ig * (1.0f - cg * cg);
        z[3 * u + j] = d * tc * og * (1.0f - og);
        dc[j] = dcc * fg;
        dh[j] = d;
    }
}

KINLINE void gru_bwd(const px_rnn_step *s, int64_t b, bool has_zr) {
    const int64_t u = s->u;
    const float *restrict p = s->p + b * s->ldp, *restrict hp = s->hp + b * s->ldh,
                          *restrict x2 = s->x2 + b * s->ldh, *restrict gh = s->gh + b * s->ldy;
    float *restrict dh = s->dh + b * u, *restrict z = s->z + b * s->ldp;
    float *restrict zr = has_zr ? s->zr + b * s->ldp : NULL;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float d = dh[j] + gh[j];
        float zg = p[j], hh = p[2 * u + j];
        float dah = d * (1.0f - zg) * (1.0f - hh * hh);
        float dz = d * (hp[j] - hh) * zg * (1.0f - zg);
        z[j] = dz;
        z[2 * u + j] = dah;
        if (has_zr) {
            float r = p[u + j];
            float dr = dah * x2[j] * r * (1.0f - r);
            z[u + j] = dr;
            zr[j] = dz, zr[u + j] = dr, zr[2 * u + j] = dah * r;
        }
        dh[j] = d * zg; /* the direct path h = z h_prev + ... */
    }
}

KINLINE void grub_reset(const px_rnn_step *s, int64_t b) {
    const int64_t u = s->u;
    const float *restrict p = s->p + b * s->ldp, *restrict hp = s->hp + b * s->ldh, *restrict drh = s->drh + b * u;
    float *restrict z = s->z + b * s->ldp, *restrict dh = s->dh + b * u;
    RK_IVDEP
    for (int64_t j = 0; j < u; j++) {
        float r = p[u + j];
        z[u + j] = drh[j] * hp[j] * r * (1.0f - r);
        dh[j] += drh[j] * r;
    }
}

KINLINE void rows(px_rnn_kernel k, const px_rnn_step *s, int64_t b0, int64_t b1) {
    const bool bias = s->bias != NULL;
    for (int64_t b = b0; b < b1; b++) {
        switch (k) {
        case PX_RK_SIMPLE_FWD:
            if (bias) simple_fwd(s, b, true);
            else simple_fwd(s, b, false);
            break;
        case PX_RK_LSTM_FWD:
            if (bias && s->cp) lstm_fwd(s, b, true, true);
            else if (bias) lstm_fwd(s, b, true, false);
            else if (s->cp) lstm_fwd(s, b, false, true);
            else lstm_fwd(s, b, false, false);
            break;
        case PX_RK_GRU_FWD:
            if (bias && s->brec) gru_fwd(s, b, true, true);
            else if (bias) gru_fwd(s, b, true, false);
            else if (s->brec) gru_fwd(s, b, false, true);
            else gru_fwd(s, b, false, false);
            break;
        case PX_RK_GRUB_GATES:
            if (bias) grub_gates(s, b, true);
            else grub_gates(s, b, false);
            break;
        case PX_RK_GRUB_CAND:
            if (bias) grub_cand(s, b, true);
            else grub_cand(s, b, false);
            break;
        case PX_RK_SIMPLE_BWD: simple_bwd(s, b); break;
        case PX_RK_LSTM_BWD:
            if (s->cp) lstm_bwd(s, b, true);
            else lstm_bwd(s, b, false);
            break;
        case PX_RK_GRU_BWD:
            if (s->zr) gru_bwd(s, b, true);
            else gru_bwd(s, b, false);
            break;
        case PX_RK_GRUB_RESET: grub_reset(s, b); break;
        }
        /* the forward kernels that produce h hand it to the next step */
        if (s->hn && (k == PX_RK_SIMPLE_FWD || k == PX_RK_LSTM_FWD || k == PX_RK_GRU_FWD || k == PX_RK_GRUB_CAND))
            memcpy(s->hn + b * s->ldh, s->h + b * s->ldy, (size_t)s->u * sizeof(float));
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")
static void rows_avx512(px_rnn_kernel k, const px_rnn_step *s, int64_t b0, int64_t b1) { rows(k, s, b0, b1); }
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
static void rows_avx2(px_rnn_kernel k, const px_rnn_step *s, int64_t b0, int64_t b1) { rows(k, s, b0, b1); }
#pragma GCC pop_options
#define RK_MULTI 1
#else
#define RK_MULTI 0
#endif
static void rows_generic(px_rnn_kernel k, const px_rnn_step *s, int64_t b0, int64_t b1) { rows(k, s, b0, b1); }

void px_rnn_rows(px_rnn_kernel k, const px_rnn_step *s, int64_t b0, int64_t b1) {
#if RK_MULTI
    switch (px_vmath_level()) {
    case 2: rows_avx512(k, s, b0, b1); return;
    case 1: rows_avx2(k, s, b0, b1); return;
    default: break;
    }
#endif
    rows_generic(k, s, b0, b1);
}
