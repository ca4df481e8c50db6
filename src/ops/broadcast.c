/* Broadcast iteration and the reduction of gradients back to an operand's shape. */
#include <string.h>

#include "ops/broadcast.h"

static void aligned_strides(const px_tensor *t, int rank, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = t->rank - rank + i;
        int64_t d = ti >= 0 ? t->shape[ti] : 1;
        st[i] = (d == 1 && shape[i] != 1) ? 0 : s;
        s *= d;
    }
}

void px_bcast_init(px_bcast *p, const px_tensor *a, const px_tensor *b, const px_tensor *out) {
    memset(p, 0, sizeof *p);
    p->rank = out->rank ? out->rank : 1;
    for (int i = 0; i < p->rank; i++) p->shape[i] = out->rank ? out->shape[i] : 1;
    aligned_strides(a, p->rank, p->shape, p->sa);
    aligned_strides(b, p->rank, p->shape, p->sb);
    p->inner = p->shape[p->rank - 1];
    p->outer = 1;
    for (int i = 0; i < p->rank - 1; i++) p->outer *= p->shape[i];
}

void px_bcast_row(const px_bcast *p, int64_t r, int64_t *offa, int64_t *offb) {
    int64_t oa = 0, ob = 0;
    for (int i = p->rank - 2; i >= 0; i--) {
        int64_t d = p->shape[i], idx = r % d;
        r /= d;
        oa += idx * p->sa[i];
        ob += idx * p->sb[i];
    }
    *offa = oa;
    *offb = ob;
}

void px_reduce_to(px_tensor *dst, const px_tensor *src) {
    float *d = dst->data;
    const float *s = src->data;
    int64_t n = px_tensor_size(src), m = px_tensor_size(dst);
    if (n == m) {
        for (int64_t i = 0; i < n; i++) d[i] += s[i];
        return;
    }
    if (m == 1) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += s[i];
        d[0] += (float)acc;
        return;
    }
    px_bcast p;
    px_bcast_init(&p, dst, dst, src);
    for (int64_t r = 0; r < p.outer; r++) {
        int64_t od, unused;
        px_bcast_row(&p, r, &od, &unused);
        const float *row = s + r * p.inner;
        if (p.sa[p.rank - 1]) {
            for (int64_t i = 0; i < p.inner; i++) d[od + i] += row[i];
        } else {
            float acc = 0;
            for (int64_t i = 0; i < p.inner; i++) acc += row[i];
            d[od] += acc;
        }
    }
}
