/* Keras's subclassed Model: a user-defined layer (its call, with the training flag,
 * and its tracked sublayers) made a model that compiles, fits, evaluates, predicts
 * and saves; it is a Functional model of an Input and that one layer. */
#include <string.h>

#include "model/model_internal.h"

px_model *px_subclassed_model(px_layer *body, px_shape input_shape) {
    if (!body) {
        if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "subclassed_model: layer is NULL");
        return NULL;
    }
    if (body->model || body->graph) {
        px_set_error(PX_ERR_ARG, "subclassed_model: layer '%s' already belongs to a model", px_layer_name(body));
        return NULL;
    }
    px_model *m = px_functional(NULL);
    px_node *x = m ? px_model_input(m, input_shape, NULL) : NULL;
    if (!x) {
        px_model_free(m);
        px_layer_free(body);
        return NULL;
    }
    px_node *y = px_apply(body, x); /* the model owns body from here, also on failure */
    if (!y || px_model_set_outputs(m, &y, 1) || px_model_set_name(m, px_layer_name(body))) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

px_layer *px_subclassed_layer(const px_model *m) {
    for (int i = 0; m && i < m->n_layers; i++)
        if (!m->layers[i]->kind || strcmp(m->layers[i]->def->class_name, "InputLayer") != 0) return m->layers[i];
    if (!m) px_set_error(PX_ERR_ARG, "subclassed_layer: model is NULL");
    else px_set_error(PX_ERR_ARG, "subclassed_layer: model '%s' has no layer but its inputs", m->name);
    return NULL;
}
