/* Sublayers tracked inside a layer (Keras's layers set as attributes of a Layer or a
 * subclassed Model): ownership, application in the owner's graph, and the adoption of
 * their weights as the owner's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_internal.h"

/* An unnamed sublayer gets its class's base name, unique among self's sublayers
 * ("dense", "dense_1", ...), as a model names its layers. */
static px_status name_sublayer(const px_layer *self, px_layer *sub) {
    char base[96], name[112];
    if (sub->kind && sub->kind->base_name) snprintf(base, sizeof base, "%s", sub->kind->base_name);
    else px_snake_case(sub->def->class_name, base, sizeof base);
    snprintf(name, sizeof name, "%s", base);
    for (int k = 1;; k++) {
        bool taken = false;
        for (int i = 0; i < self->n_subs; i++) taken = taken || strcmp(px_layer_name(self->subs[i]), name) == 0;
        if (!taken) break;
        snprintf(name, sizeof name, "%s_%d", base, k);
    }
    return px_layer_set_name(sub, name);
}

int px_layer_track(px_layer *self, px_layer *sub) {
    if (!self || !sub) {
        if (!sub && !px_last_error()[0]) px_set_error(PX_ERR_ARG, "layer_track: sublayer is NULL");
        else if (!self) px_set_error(PX_ERR_ARG, "layer_track: layer is NULL");
        px_layer_free(sub);
        return -1;
    }
    bool tracked = false;
    for (int i = 0; i < self->n_subs; i++) tracked = tracked || self->subs[i] == sub;
    const char *why = self == sub      ? "itself"
                      : tracked        ? "a layer it already tracks"
                      : sub->graph     ? "a layer already applied"
                      : self->graph    ? "anything once it is applied (track in the constructor)"
                                       : NULL;
    if (why) {
        px_set_error(PX_ERR_ARG, "layer '%s' cannot track %s ('%s')", px_layer_name(self), why, px_layer_name(sub));
        /* a layer owned elsewhere (self, self's, a model's) is not ours to free */
        if (self != sub && !tracked && !sub->graph) px_layer_free(sub);
        return -1;
    }
    if (!sub->name && name_sublayer(self, sub)) {
        px_layer_free(sub);
        return -1;
    }
    px_layer **s = realloc(self->subs, (size_t)(self->n_subs + 1) * sizeof *s);
    if (!s) {
        px_layer_free(sub);
        px_set_error(PX_ERR_NOMEM, "layer_track: out of memory");
        return -1;
    }
    self->subs = s;
    self->subs[self->n_subs] = sub;
    return self->n_subs++;
}

int px_layer_sublayer_count(const px_layer *l) { return l ? l->n_subs : 0; }

px_layer *px_layer_sublayer(const px_layer *l, int i) {
    if (!l || i < 0 || i >= l->n_subs) {
        px_set_error(PX_ERR_ARG, "layer '%s' has %d sublayers, not %d", px_layer_name(l), l ? l->n_subs : 0, i + 1);
        return NULL;
    }
    return l->subs[i];
}

px_node *px_sublayer_apply(px_layer *self, int i, px_node *const *in, int n) {
    px_layer *sub = px_layer_sublayer(self, i);
    if (!sub) return NULL;
    if (n < 1 || !in) {
        px_set_error(PX_ERR_ARG, "layer '%s': sublayer '%s' applied to no input", px_layer_name(self), px_layer_name(sub));
        return NULL;
    }
    return px_layer_apply(sub, in, n, self->rng);
}

px_status px_layer_adopt_weights(px_layer *self, const px_layer *sub) {
    for (int k = 0; k < sub->n_weights; k++) {
        if (self->n_weights == self->cap_weights) {
            int cap = self->cap_weights ? 2 * self->cap_weights : 8;
            px_node **w = realloc(self->weights, (size_t)cap * sizeof *w);
            if (w) self->weights = w;
            char **nm = realloc(self->weight_names, (size_t)cap * sizeof *nm);
            if (nm) self->weight_names = nm;
            px_regularizer *r = realloc(self->regs, (size_t)cap * sizeof *r);
            if (r) self->regs = r;
            bool *fx = realloc(self->fixed, (size_t)cap * sizeof *fx);
            if (fx) self->fixed = fx;
            if (!w || !nm || !r || !fx) return px_set_error(PX_ERR_NOMEM, "layer '%s': out of memory", px_layer_name(self));
            self->cap_weights = cap;
        }
        size_t len = strlen(px_layer_name(sub)) + strlen(sub->weight_names[k]) + 2;
        char *name = malloc(len);
        if (!name) return px_set_error(PX_ERR_NOMEM, "layer '%s': out of memory", px_layer_name(self));
        snprintf(name, len, "%s/%s", px_layer_name(sub), sub->weight_names[k]);
        if (!self->trainable) px_variable_set_trainable(sub->weights[k], false);
        self->fixed[self->n_weights] = sub->fixed[k];
        self->weights[self->n_weights] = sub->weights[k];
        self->weight_names[self->n_weights] = name;
        /* the sublayer keeps its regularizers: the outer model sees them here */
        self->regs[self->n_weights++] = sub->regs[k];
    }
    return PX_OK;
}

px_status px_layer_adopt_sublayers(px_layer *l) {
    if (l->subs_adopted) return PX_OK;
    for (int i = 0; i < l->n_subs; i++) {
        px_status st = px_layer_adopt_weights(l, l->subs[i]);
        if (st) return st;
    }
    l->subs_adopted = true;
    return PX_OK;
}

px_status px_layer_clone_sublayers(const px_layer *l, px_layer *c) {
    for (int i = 0; i < l->n_subs; i++) {
        px_layer *s = px_layer_clone(l->subs[i]);
        if (!s || px_layer_track(c, s) < 0) return px_last_status();
    }
    return PX_OK;
}
