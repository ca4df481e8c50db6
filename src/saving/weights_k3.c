/* Keras 3's weight layout (model.weights.h5 inside .keras archives, and .weights.h5
 * files): layers/<snake_case class>[_N]/vars/<i>, the groups named by class and
 * position in model.layers (as saving_lib's _save_container_state names them), not by
 * the layers' own names, which Keras does not keep reproducible. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "saving/weights.h"

/* One weight's place: leaf layer, its index there, the dataset path. */
typedef struct k3_entry {
    px_layer *layer;
    int k;
    char path[440];
} k3_entry;

typedef struct k3_map {
    k3_entry *e;
    int n, cap;
    char (*groups)[400]; /* every layer group, and every vars group a weight lives in */
    int *expect;         /* weights expected in each group (-1: a layer group) */
    const px_layer **owner; /* the layer of each group */
    int n_groups, cap_groups;
} k3_map;

static void map_free(k3_map *m) {
    free(m->e);
    free(m->groups);
    free(m->expect);
    free(m->owner);
}

static px_status add_group(k3_map *m, const char *path, bool vars, const px_layer *l) {
    for (int i = 0; i < m->n_groups; i++)
        if (strcmp(m->groups[i], path) == 0) {
            if (vars) m->expect[i]++;
            return PX_OK;
        }
    if (m->n_groups == m->cap_groups) {
        int cap = m->cap_groups ? 2 * m->cap_groups : 32;
        char(*g)[400] = realloc(m->groups, (size_t)cap * sizeof *g);
        if (g) m->groups = g;
        int *x = realloc(m->expect, (size_t)cap * sizeof *x);
        if (x) m->expect = x;
        const px_layer **o = realloc(m->owner, (size_t)cap * sizeof *o);
        if (o) m->owner = o;
        if (!g || !x || !o) return px_set_error(PX_ERR_NOMEM, "weights: out of memory");
        m->cap_groups = cap;
    }
    snprintf(m->groups[m->n_groups], sizeof m->groups[0], "%s", path);
    m->owner[m->n_groups] = l;
    m->expect[m->n_groups++] = vars ? 1 : -1;
    return PX_OK;
}

static px_status add_entry(k3_map *m, px_layer *l, int k, const char *group, int index) {
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 32;
        k3_entry *e = realloc(m->e, (size_t)cap * sizeof *e);
        if (!e) return px_set_error(PX_ERR_NOMEM, "weights: out of memory");
        m->e = e;
        m->cap = cap;
    }
    k3_entry *e = &m->e[m->n++];
    e->layer = l;
    e->k = k;
    snprintf(e->path, sizeof e->path, "%s/%d", group, index);
    return add_group(m, group, true, l);
}

/* Every weight of model m's layers under `prefix` ("layers"). */
static px_status map_model(k3_map *map, const px_model *m, const char *prefix) {
    struct {
        char base[96];
        int count;
    } used[256];
    int n_used = 0;
    for (int i = 0; i < m->n_layers; i++) {
        px_layer *l = m->layers[i];
        if (m->sequential && px_is_input_layer(l)) continue; /* Sequential.layers leaves it out */
        char base[96], key[128], group[300];
        px_snake_case(l->def->class_name, base, sizeof base);
        int u = 0;
        while (u < n_used && strcmp(used[u].base, base) != 0) u++;
        if (u == n_used) {
            if (n_used == 256) return px_set_error(PX_ERR_UNSUPPORTED, "weights: more than 256 layer classes in one model");
            snprintf(used[n_used].base, sizeof used[0].base, "%s", base);
            used[n_used++].count = 0;
            snprintf(key, sizeof key, "%s", base);
        } else {
            snprintf(key, sizeof key, "%s_%d", base, ++used[u].count);
        }
        snprintf(group, sizeof group, "%s/%s", prefix, key);
        px_status st = add_group(map, group, false, l);
        const px_model *inner = px_layer_inner_model(l);
        if (inner) {
            /* a nested model's layers under its own "layers" */
            char sub[340];
            snprintf(sub, sizeof sub, "%s/layers", group);
            if (!st) st = map_model(map, inner, sub);
            if (st) return st;
            continue;
        }
        for (int k = 0; !st && k < px_layer_weight_count(l); k++) {
            int index = k;
            const char *sub = l->kind && l->kind->k3_vars ? l->kind->k3_vars(l, k, &index) : "vars";
            char vg[400];
            snprintf(vg, sizeof vg, "%s/%s", group, sub);
            st = add_entry(map, l, k, vg, index);
        }
        if (st) return st;
    }
    return PX_OK;
}

/* ---------------------------------------------------------------- writing */

px_status px_k3_weights_write(px_h5_file *f, const px_model *m) {
    k3_map map = {0};
    px_status st = map_model(&map, m, "layers");
    if (!st) st = px_h5_create_group(f, "layers");
    for (int i = 0; !st && i < map.n; i++)
        st = px_h5_write_tensor(f, map.e[i].path, px_node_value(px_layer_weight(map.e[i].layer, map.e[i].k)));
    /* every layer gets a vars group (empty for weightless ones), named after the layer */
    for (int i = 0; !st && i < map.n_groups; i++) {
        if (map.expect[i] >= 0) continue;
        char vars[420];
        snprintf(vars, sizeof vars, "%s/vars", map.groups[i]);
        st = px_h5_create_group(f, vars);
    }
    if (!st) st = px_h5_create_group(f, "vars");
    map_free(&map);
    return st;
}

/* ---------------------------------------------------------------- reading */

static int datasets_in(px_h5_file *f, const char *group) {
    if (px_h5_kind_of(f, group) != PX_H5_GROUP) return 0;
    char **names = NULL;
    size_t n = 0;
    if (px_h5_list(f, group, PX_H5_ORDER_NAME, &names, &n)) return -1;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", group, names[i]);
        count += px_h5_kind_of(f, p) == PX_H5_DATASET;
    }
    px_h5_free_names(names, n);
    return count;
}

px_status px_k3_weights_read(px_h5_file *f, px_model *m) {
    k3_map map = {0};
    px_status st = map_model(&map, m, "layers");
    /* as Keras's load_own_variables: each vars group holds exactly the layer's
     * variables, and a weightless layer's holds none */
    for (int i = 0; !st && i < map.n_groups; i++) {
        char vars[420];
        int want = map.expect[i];
        if (want >= 0) {
            snprintf(vars, sizeof vars, "%s", map.groups[i]);
        } else {
            snprintf(vars, sizeof vars, "%s/vars", map.groups[i]);
            bool mapped = false;
            for (int k = 0; k < map.n_groups; k++) mapped |= strcmp(map.groups[k], vars) == 0;
            if (mapped) continue;
            want = 0;
        }
        int have = datasets_in(f, vars);
        if (have < 0) {
            st = px_last_status();
        } else if (have != want) {
            const px_layer *l = map.owner[i];
            st = px_set_error(PX_ERR_FORMAT, "'%s': layer '%s' (%s) has %d weights in the model, %d in '%s'%s", px_h5_filename(f),
                              px_layer_name(l), px_layer_class(l), want, have, vars,
                              have == 0 ? " (Keras 3 names the groups by class and position in model.layers)" : "");
        }
    }
    px_staged_set set = {0};
    for (int i = 0; !st && i < map.n; i++) {
        px_staged *s = px_staged_add(&set, map.e[i].layer);
        if (!s) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
        else st = px_read_weight(f, map.e[i].path, map.e[i].layer, map.e[i].k, &s->w[map.e[i].k]);
    }
    if (!st) st = px_staged_assign(&set);
    px_staged_free(&set);
    map_free(&map);
    return st;
}
