/* A Sequential or Functional model used as a layer of another model (Keras: calling a
 * model on tensors). The nested layer owns a copy of the model's layers and its
 * topology; applied, it applies them in the outer model's graph, and its weights are
 * theirs (Keras 2's view: a nested model's group lists all its layers' weights). */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "model/model_internal.h"

#define MAX_STEP_INPUTS 16

/* An output of an inner layer's call, or (layer < 0) the inner model's input -layer-1. */
typedef struct nref {
    int layer, call, tensor;
} nref;

/* One call of an inner layer, in graph order. */
typedef struct nstep {
    int layer;
    int n_in;
    nref in[MAX_STEP_INPUTS];
} nstep;

typedef struct nested_state {
    px_model *inner;     /* its layers: the sublayers; its graph stays empty */
    nstep *steps;        /* Functional: the calls to make (Sequential: layers in order) */
    int n_steps;
    int input_layer[PX_MAX_INPUTS]; /* Functional: the InputLayer of each input */
    int n_inputs;
    nref outputs[PX_MAX_OUTPUTS];
    int n_outputs;
    bool adopted;        /* the sublayers' weights are the layer's */
} nested_state;

static bool is_input(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }

static int layer_index(const px_model *m, const px_layer *l) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == l) return i;
    return -1;
}

static void state_free(void *p) {
    nested_state *s = p;
    if (!s) return;
    px_model_free(s->inner);
    free(s->steps);
    free(s);
}

/* A model holding copies of src's layers (px_layer_clone: unbuilt, with src's weights
 * pending), in src's order. */
static px_model *copy_layers(const px_model *src) {
    px_model *m = src->sequential ? px_sequential(NULL) : px_functional(src->name);
    if (!m || px_model_set_name(m, src->name)) {
        px_model_free(m);
        return NULL;
    }
    m->layers = calloc((size_t)src->n_layers + 1, sizeof *m->layers);
    if (!m->layers) {
        px_model_free(m);
        px_set_error(PX_ERR_NOMEM, "nested model: out of memory");
        return NULL;
    }
    m->cap_layers = src->n_layers + 1;
    for (int i = 0; i < src->n_layers; i++) {
        px_layer *c = px_layer_clone(src->layers[i]);
        if (!c) {
            px_model_free(m);
            return NULL;
        }
        c->model = m;
        m->layers[m->n_layers++] = c;
    }
    return m;
}

static void *state_clone(const void *p) {
    const nested_state *s = p;
    nested_state *c = calloc(1, sizeof *c);
    if (!c) {
        px_set_error(PX_ERR_NOMEM, "nested model: out of memory");
        return NULL;
    }
    *c = *s;
    c->adopted = false;
    c->steps = NULL;
    if (!(c->inner = copy_layers(s->inner))) {
        free(c);
        return NULL;
    }
    if (s->n_steps && !(c->steps = malloc((size_t)s->n_steps * sizeof *c->steps))) {
        state_free(c);
        px_set_error(PX_ERR_NOMEM, "nested model: out of memory");
        return NULL;
    }
    if (s->n_steps) memcpy(c->steps, s->steps, (size_t)s->n_steps * sizeof *c->steps);
    return c;
}

/* The node a reference names in the current application. */
static px_node *resolve(const nested_state *s, px_node *const *ins, const int *first_call, nref r) {
    if (r.layer < 0) return ins[-r.layer - 1];
    const px_layer *l = s->inner->layers[r.layer];
    int call = first_call[r.layer] + r.call;
    if (call >= l->n_calls || r.tensor >= l->calls[call].n_out) {
        px_set_error(PX_ERR_STATE, "nested model '%s': layer '%s' has no output %d of call %d", s->inner->name,
                     px_layer_name(l), r.tensor, r.call);
        return NULL;
    }
    return l->calls[call].out[r.tensor];
}

/* The sublayers' weights become the layer's, named "<sublayer>/<weight>". */
static px_status adopt(px_layer *self, nested_state *s) {
    for (int i = 0; i < s->inner->n_layers; i++) {
        px_status st = px_layer_adopt_weights(self, s->inner->layers[i]);
        if (st) return st;
    }
    s->adopted = true;
    return PX_OK;
}

static px_node *nested_call(px_layer *self, px_node *const *ins, int n) {
    nested_state *s = self->state;
    px_model *inner = s->inner;
    int n_in = inner->sequential ? 1 : s->n_inputs;
    if (n != n_in) {
        px_set_error(PX_ERR_ARG, "nested model '%s' takes %d input%s, got %d", inner->name, n_in, n_in == 1 ? "" : "s", n);
        return NULL;
    }
    /* calls beyond the first reuse the sublayers; their call records are dropped
     * again so that the inner model's topology stays that of its first call */
    int first_call[512] = {0};
    if (inner->n_layers > 512) {
        px_set_error(PX_ERR_UNSUPPORTED, "nested model '%s': more than 512 layers", inner->name);
        return NULL;
    }
    for (int i = 0; i < inner->n_layers; i++) first_call[i] = inner->layers[i]->n_calls;
    px_node *outs[PX_MAX_OUTPUTS] = {0};
    int n_out = 0;
    if (inner->sequential) {
        px_node *x = ins[0];
        for (int i = 0; x && i < inner->n_layers; i++)
            if (!is_input(inner->layers[i])) x = px_layer_apply(inner->layers[i], &x, 1, self->rng);
        outs[n_out++] = x;
    } else {
        for (int k = 0; k < n; k++) inner->layers[s->input_layer[k]]->output = ins[k];
        for (int i = 0; i < s->n_steps; i++) {
            const nstep *st = &s->steps[i];
            px_node *args[MAX_STEP_INPUTS];
            for (int k = 0; k < st->n_in; k++)
                if (!(args[k] = resolve(s, ins, first_call, st->in[k]))) return NULL;
            if (!px_layer_apply(inner->layers[st->layer], args, st->n_in, self->rng)) return NULL;
        }
        for (int k = 0; k < s->n_outputs; k++)
            if (!(outs[n_out++] = resolve(s, ins, first_call, s->outputs[k]))) return NULL;
    }
    if (!outs[0]) return NULL;
    if (self->n_calls == 0) {
        /* the first call defines the inner model's inputs and outputs */
        memcpy(inner->inputs, ins, (size_t)n * sizeof *ins);
        inner->n_inputs = n;
        memcpy(inner->outputs, outs, (size_t)n_out * sizeof *outs);
        inner->n_outputs = n_out;
        inner->built = true;
        if (!s->adopted && adopt(self, s)) return NULL;
    } else {
        for (int i = 0; i < inner->n_layers; i++) {
            px_layer *l = inner->layers[i];
            for (int c = first_call[i]; c < l->n_calls; c++) free(l->calls[c].in);
            l->n_calls = first_call[i];
        }
    }
    self->n_extra = 0;
    for (int k = 1; k < n_out && self->n_extra < 4; k++) self->extra_outputs[self->n_extra++] = outs[k];
    return outs[0];
}

static const px_layer_def sequential_def = {.class_name = "Sequential", .call = nested_call, .destroy = state_free,
                                            .clone_state = state_clone};
static const px_layer_def functional_def = {.class_name = "Functional", .call = nested_call, .destroy = state_free,
                                            .clone_state = state_clone};

px_model *px_layer_inner_model(const px_layer *l) {
    if (!l || (l->def != &sequential_def && l->def != &functional_def)) return NULL;
    return ((nested_state *)l->state)->inner;
}

/* The reference to node n among src's inputs or its layers' calls. */
static bool ref_of(const px_model *src, const px_node *n, nref *r) {
    for (int k = 0; k < src->n_inputs; k++)
        if (src->inputs[k] == n) {
            *r = (nref){-k - 1, 0, 0};
            return true;
        }
    const px_layer *l;
    int call, tensor;
    if (!px_model_producer(src, n, &l, &call, &tensor)) return false;
    *r = (nref){layer_index(src, l), call, tensor};
    return true;
}

static int by_output_index(const void *a, const void *b) {
    const int *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The calls of a built Functional model in graph order, as references. */
static px_status functional_topology(const px_model *src, nested_state *s) {
    int total = 0;
    for (int i = 0; i < src->n_layers; i++) total += src->layers[i]->n_calls;
    int (*order)[3] = calloc((size_t)total + 1, sizeof *order);
    s->steps = calloc((size_t)total + 1, sizeof *s->steps);
    if (!order || !s->steps) {
        free(order);
        return px_set_error(PX_ERR_NOMEM, "nested model: out of memory");
    }
    int n = 0;
    for (int i = 0; i < src->n_layers; i++)
        for (int c = 0; c < src->layers[i]->n_calls; c++) {
            order[n][0] = src->layers[i]->calls[c].out[0]->index;
            order[n][1] = i;
            order[n++][2] = c;
        }
    qsort(order, (size_t)n, sizeof *order, by_output_index);
    px_status st = PX_OK;
    for (int j = 0; !st && j < n; j++) {
        const px_layer_call *c = &src->layers[order[j][1]]->calls[order[j][2]];
        nstep *step = &s->steps[s->n_steps++];
        step->layer = order[j][1];
        step->n_in = c->n_in;
        if (c->n_in > MAX_STEP_INPUTS) st = px_set_error(PX_ERR_UNSUPPORTED, "nested model '%s': a layer with more than %d inputs", src->name, MAX_STEP_INPUTS);
        for (int k = 0; !st && k < c->n_in; k++)
            if (!ref_of(src, c->in[k], &step->in[k]))
                st = px_set_error(PX_ERR_STATE, "nested model '%s': an input of layer '%s' comes from no layer", src->name,
                                  px_layer_name(src->layers[order[j][1]]));
    }
    free(order);
    for (int k = 0; !st && k < src->n_inputs; k++) {
        const px_layer *l;
        int call, tensor;
        if (!px_model_producer(src, src->inputs[k], &l, &call, &tensor) || !is_input(l))
            st = px_set_error(PX_ERR_STATE, "nested model '%s': input %d is not an InputLayer's", src->name, k);
        else s->input_layer[k] = layer_index(src, l);
    }
    for (int k = 0; !st && k < src->n_outputs; k++)
        if (!ref_of(src, src->outputs[k], &s->outputs[k]))
            st = px_set_error(PX_ERR_STATE, "nested model '%s': output %d comes from no layer", src->name, k);
    s->n_outputs = src->n_outputs;
    s->n_inputs = src->n_inputs;
    return st;
}

px_layer *px_model_as_layer(px_model *model) {
    if (!model) { /* keeps the constructor's error, if any */
        if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "px_model_as_layer: model is NULL");
        return NULL;
    }
    px_layer *l = NULL;
    nested_state *s = calloc(1, sizeof *s);
    px_status st = s ? PX_OK : px_set_error(PX_ERR_NOMEM, "nested model: out of memory");
    if (!st && !model->sequential && !model->built)
        st = px_set_error(PX_ERR_STATE, "model_as_layer: Functional model '%s' has no outputs yet", model->name);
    if (!st && model->compiled)
        px_warn("model '%s' becomes a layer: its compile settings are dropped (compile the outer model)", model->name);
    if (!st && !model->sequential) st = functional_topology(model, s);
    if (!st && !(s->inner = copy_layers(model))) st = px_last_status();
    if (!st) {
        l = px_layer_new(model->sequential ? &sequential_def : &functional_def, s, model->name);
        if (!l) st = px_last_status();
    }
    if (st) {
        state_free(s);
        px_model_free(model);
        return NULL;
    }
    /* a built model's input shape lets an outer Sequential build from it */
    if (model->built && model->n_inputs == 1) {
        px_shape in = px_node_shape(model->inputs[0]);
        l->input_shape = (px_shape){.rank = in.rank - 1};
        for (int i = 1; i < in.rank; i++) l->input_shape.dim[i - 1] = in.dim[i];
        l->has_input_shape = true;
    } else if (model->sequential && model->n_layers > 0 && model->layers[0]->has_input_shape) {
        l->input_shape = model->layers[0]->input_shape;
        l->has_input_shape = true;
    }
    px_model_free(model);
    return l;
}
