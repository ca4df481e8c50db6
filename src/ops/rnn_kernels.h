/* Internal: the per-timestep elementwise work of the fused recurrent ops (gate
 * activations, state updates and their derivatives), vectorised per ISA. */
#ifndef PX_OPS_RNN_KERNELS_H
#define PX_OPS_RNN_KERNELS_H

#include <stdint.h>

/* One timestep's operands, each at batch row 0; row b of a buffer lies b times
 * its stride further on (the strides are those of rnn.c's buffers). Members a
 * kernel does not use are ignored. */
typedef struct px_rnn_step {
    int64_t u;
    float *p;             /* gate pre-activations (G u per row, ldp apart), activated in place */
    int64_t ldp;
    const float *bias;    /* G u values added to the pre-activations first, or NULL */
    const float *hp;      /* the h the step starts from (ldh apart) */
    int64_t ldh;
    float *x2;            /* LSTM c; GRU: the recurrent candidate part or r h_prev (ldh apart) */
    const float *cp;      /* LSTM: the previous step's c (ldh apart), NULL at the first step */
    const float *rec;     /* GRU reset_after: the recurrent product (G u per row, ldrec apart) */
    int64_t ldrec;
    const float *brec;    /* its bias, or NULL */
    float *h;             /* forward: the step's h (ldy apart) */
    const float *gh;      /* backward: d(loss)/d(the step's h) from the output (ldy apart) */
    int64_t ldy;
    float *hn;            /* forward: copy of h for the next step's hp (ldh apart), or NULL */
    float *dh, *dc;       /* backward: running d/dh, d/dc (u per row, contiguous) */
    float *z, *zr;        /* backward: d/d(pre-activations) (ldp apart); zr GRU reset_after's second, or NULL */
    const float *drh;     /* backward GRU reset_before: d/d(r h_prev) (u per row, contiguous) */
} px_rnn_step;

typedef enum px_rnn_kernel {
    PX_RK_SIMPLE_FWD,  /* h = tanh(p) */
    PX_RK_LSTM_FWD,    /* gates, c, h */
    PX_RK_GRU_FWD,     /* reset_after: gates with the recurrent product, h */
    PX_RK_GRUB_GATES,  /* reset_before, before the candidate's product: z, r, r h_prev */
    PX_RK_GRUB_CAND,   /* reset_before, after it: candidate, h */
    PX_RK_SIMPLE_BWD,  /* dh += gh; z */
    PX_RK_LSTM_BWD,    /* dh += gh; z; dc carried back */
    PX_RK_GRU_BWD,     /* dh += gh; z (and zr); dh's direct path */
    PX_RK_GRUB_RESET   /* reset_before: the reset gate's z, d h_prev through r h_prev */
} px_rnn_kernel;

/* Runs `kernel` on batch rows b0 .. b1 - 1. Each row is computed alone and the
 * same way whichever rows a call covers, so results do not depend on how rows
 * are split over threads. */
void px_rnn_rows(px_rnn_kernel kernel, const px_rnn_step *s, int64_t b0, int64_t b1);

#endif
