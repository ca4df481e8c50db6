/* Shared (de)serialisation of layer config values: numbers, shapes, initializers,
 * regularizers and activations in Keras 2's spelling, read in Keras 2 or 3's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"

double px_lc_float(float v) {
    if (!isfinite(v)) return (double)v;
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) return strtod(buf, NULL);
    }
    return (double)v;
}

const char *px_lc_name(const px_json *config) { return px_json_get_string(config, "name", "?"); }

static px_status bad(const px_json *config, const char *key, const char *want) {
    const px_json *v = px_json_get(config, key);
    if (!v) return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' is missing", px_lc_name(config), key);
    return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be %s, not %s", px_lc_name(config), key, want,
                        px_json_type_name(px_json_typeof(v)));
}

/* ---- writing ---- */
px_status px_lc_set_int(px_json *c, const char *key, int64_t v) { return px_json_set(c, key, px_json_new_int(v)); }
px_status px_lc_set_float(px_json *c, const char *key, float v) {
    return px_json_set(c, key, px_json_new_number(px_lc_float(v)));
}
px_status px_lc_set_bool(px_json *c, const char *key, bool v) { return px_json_set(c, key, px_json_new_bool(v)); }
px_status px_lc_set_string(px_json *c, const char *key, const char *v) {
    return px_json_set(c, key, px_json_new_string(v));
}
px_status px_lc_set_null(px_json *c, const char *key) { return px_json_set(c, key, px_json_new_null()); }

px_json *px_lc_class_object(const char *cls, px_json *config) {
    px_json *o = config ? px_json_new_object() : NULL;
    if (!o || px_lc_set_string(o, "class_name", cls)) {
        px_json_free(config);
        px_json_free(o);
        return NULL;
    }
    if (px_json_set(o, "config", config)) return px_json_free(o), NULL;
    return o;
}

px_status px_lc_set_shape(px_json *c, const char *key, px_shape s, bool batch) {
    px_json *a = px_json_new_array();
    if (!a) return px_last_status();
    if (batch && px_json_push(a, px_json_new_null()) != PX_OK) return px_json_free(a), px_last_status();
    for (int i = 0; i < s.rank; i++)
        if (px_json_push(a, s.dim[i] < 0 ? px_json_new_null() : px_json_new_int(s.dim[i])) != PX_OK)
            return px_json_free(a), px_last_status();
    return px_json_set(c, key, a);
}

px_status px_lc_set_ints(px_json *c, const char *key, const int *v, int n) {
    px_json *a = px_json_new_array();
    px_status st = a ? PX_OK : px_last_status();
    for (int i = 0; !st && i < n; i++) st = px_json_push(a, px_json_new_int(v[i]));
    if (st) {
        px_json_free(a);
        return st;
    }
    return px_json_set(c, key, a);
}

px_status px_lc_set_initializer(px_json *c, const char *key, px_initializer init, px_init_kind fallback) {
    if (init.kind == PX_INIT_DEFAULT) init.kind = fallback;
    px_json *cfg = px_json_new_object();
    if (!cfg) return px_last_status();
    px_status st = PX_OK;
    switch (init.kind) {
    case PX_INIT_ZEROS:
    case PX_INIT_ONES: break;
    case PX_INIT_CONSTANT: st = px_lc_set_float(cfg, "value", init.value); break;
    case PX_INIT_RANDOM_NORMAL:
        st = px_lc_set_float(cfg, "mean", init.mean);
        if (!st) st = px_lc_set_float(cfg, "stddev", init.stddev > 0 ? init.stddev : 0.05f);
        if (!st) st = px_lc_set_null(cfg, "seed");
        break;
    case PX_INIT_RANDOM_UNIFORM: {
        float lo = init.minval, hi = init.maxval;
        if (lo == 0 && hi == 0) lo = -0.05f, hi = 0.05f;
        st = px_lc_set_float(cfg, "minval", lo);
        if (!st) st = px_lc_set_float(cfg, "maxval", hi);
        if (!st) st = px_lc_set_null(cfg, "seed");
        break;
    }
    case PX_INIT_ORTHOGONAL:
        st = px_lc_set_float(cfg, "gain", init.gain != 0 ? init.gain : 1.0f);
        if (!st) st = px_lc_set_null(cfg, "seed");
        break;
    default: st = px_lc_set_null(cfg, "seed"); break;
    }
    if (st) return px_json_free(cfg), st;
    return px_json_set(c, key, px_lc_class_object(px_init_name(init.kind), cfg));
}

px_status px_lc_set_regularizer(px_json *c, const char *key, px_regularizer r) {
    if (r.l1 == 0 && r.l2 == 0) return px_lc_set_null(c, key);
    /* L1L2 with both keys: the one spelling K2 and K3 both read */
    px_json *cfg = px_json_new_object();
    px_status st = cfg ? px_lc_set_float(cfg, "l1", r.l1) : px_last_status();
    if (!st) st = px_lc_set_float(cfg, "l2", r.l2);
    if (st) return px_json_free(cfg), st;
    return px_json_set(c, key, px_lc_class_object("L1L2", cfg));
}

/* The Keras major version of the config being read (2 or 3). Per thread, as
 * loads may run on several threads at once. */
static _Thread_local int keras_major = 3;

int px_lc_keras_major(void) { return keras_major; }
int px_lc_set_keras_major(int major) {
    int prev = keras_major;
    keras_major = major == 2 ? 2 : 3;
    return prev;
}
int px_lc_keras_major_of(const char *version) {
    return version && version[0] == '2' && (version[1] == '.' || !version[1]) ? 2 : (version && version[0] == '1' ? 2 : 3);
}

px_status px_lc_set_kernel_bias(px_json *c, px_initializer kernel_init, px_initializer bias_init,
                                px_regularizer kernel_reg, px_regularizer bias_reg) {
    px_status st = px_lc_set_initializer(c, "kernel_initializer", kernel_init, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_initializer(c, "bias_initializer", bias_init, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_regularizer(c, "kernel_regularizer", kernel_reg);
    if (!st) st = px_lc_set_regularizer(c, "bias_regularizer", bias_reg);
    if (!st) st = px_lc_set_null(c, "activity_regularizer");
    if (!st) st = px_lc_set_null(c, "kernel_constraint");
    if (!st) st = px_lc_set_null(c, "bias_constraint");
    return st;
}

px_status px_lc_get_kernel_bias(const px_json *c, px_initializer *kernel_init, px_initializer *bias_init,
                                px_regularizer *kernel_reg, px_regularizer *bias_reg) {
    px_status st = px_lc_get_initializer(c, "kernel_initializer", kernel_init);
    if (!st) st = px_lc_get_initializer(c, "bias_initializer", bias_init);
    if (!st) st = px_lc_get_regularizer(c, "kernel_regularizer", kernel_reg);
    if (!st) st = px_lc_get_regularizer(c, "bias_regularizer", bias_reg);
    if (!st) st = px_lc_expect_null(c, "activity_regularizer");
    if (!st) st = px_lc_expect_null(c, "kernel_constraint");
    if (!st) st = px_lc_expect_null(c, "bias_constraint");
    return st;
}

px_status px_lc_set_activation(px_json *c, const char *key, px_activation a) {
    if (a != PX_HARD_SIGMOID) return px_lc_set_string(c, key, px_activation_name(a));
    /* configs are written for Keras 2, whose "hard_sigmoid" is 0.2 x + 0.5: Keras
     * 3's is written in Keras 3's serialised form, which names its module */
    px_json *o = px_json_new_object();
    px_status st = o ? PX_OK : px_last_status();
    if (!st) st = px_lc_set_string(o, "module", "keras.activations");
    if (!st) st = px_lc_set_string(o, "class_name", "function");
    if (!st) st = px_lc_set_string(o, "config", "hard_sigmoid");
    if (!st) st = px_lc_set_null(o, "registered_name");
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_json_set(c, key, o);
}

/* ---- reading ---- */
px_status px_lc_get_int(const px_json *c, const char *key, bool required, int64_t *out) {
    const px_json *v = px_json_get(c, key);
    if (!v) return required ? bad(c, key, "an integer") : PX_OK;
    if (!px_json_is_number(v) || px_json_number(v) != floor(px_json_number(v)) || fabs(px_json_number(v)) > 1e15)
        return bad(c, key, "an integer");
    *out = px_json_int(v);
    return PX_OK;
}

px_status px_lc_get_float(const px_json *c, const char *key, bool required, float *out) {
    const px_json *v = px_json_get(c, key);
    if (!v) return required ? bad(c, key, "a number") : PX_OK;
    if (!px_json_is_number(v)) return bad(c, key, "a number");
    *out = (float)px_json_number(v);
    return PX_OK;
}

px_status px_lc_get_bool(const px_json *c, const char *key, bool required, bool *out) {
    const px_json *v = px_json_get(c, key);
    if (!v) return required ? bad(c, key, "true or false") : PX_OK;
    if (!px_json_is_bool(v)) return bad(c, key, "true or false");
    *out = px_json_bool(v);
    return PX_OK;
}

px_status px_lc_get_axis(const px_json *c, const char *key, bool required, int *out) {
    const px_json *v = px_json_get(c, key);
    if (!v) return required ? bad(c, key, "an integer") : PX_OK;
    if (px_json_is_array(v) && px_json_len(v) == 1) v = px_json_at(v, 0);
    if (!px_json_is_integer(v) || px_json_int(v) < -PX_MAX_RANK || px_json_int(v) > PX_MAX_RANK)
        return bad(c, key, "an axis (a small integer)");
    *out = (int)px_json_int(v);
    return PX_OK;
}

px_status px_lc_get_shape(const px_json *c, const char *key, bool required, bool batch, px_shape *out) {
    const px_json *v = px_json_get(c, key);
    if (!v) return required ? bad(c, key, "a list of sizes") : PX_OK;
    size_t n = px_json_len(v), skip = batch ? 1 : 0;
    if (!px_json_is_array(v) || n < skip || n - skip > PX_MAX_RANK) return bad(c, key, "a list of at most 8 sizes");
    px_shape s = {.rank = (int)(n - skip)};
    for (size_t i = skip; i < n; i++) {
        const px_json *d = px_json_at(v, i);
        if (px_json_is_null(d)) s.dim[i - skip] = PX_UNKNOWN;
        else if (px_json_is_integer(d) && px_json_int(d) >= -1 && px_json_int(d) <= ((int64_t)1 << 40))
            s.dim[i - skip] = px_json_int(d);
        else
            return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s': entry %zu is not a size", px_lc_name(c),
                                key, i);
    }
    *out = s;
    return PX_OK;
}

/* The Keras name of an initializer as a class or function name, without case or '_'. */
static bool same_name(const char *a, const char *b) {
    while (*a || *b) {
        if (*a == '_') { a++; continue; }
        if (*b == '_') { b++; continue; }
        if (!*a || !*b || (*a | 0x20) != (*b | 0x20)) return false;
        a++, b++;
    }
    return true;
}

px_status px_lc_get_initializer(const px_json *c, const char *key, px_initializer *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    const char *cls = px_json_is_string(v) ? px_json_string(v) : px_json_get_string(v, "class_name", NULL);
    const px_json *cfg = px_json_get(v, "config");
    if (!cls) return bad(c, key, "an initializer name or {\"class_name\", \"config\"} object");
    px_initializer init = {0};
    static const struct { const char *name; px_init_kind kind; } table[] = {
        {"Zeros", PX_INIT_ZEROS}, {"Ones", PX_INIT_ONES}, {"Constant", PX_INIT_CONSTANT},
        {"RandomNormal", PX_INIT_RANDOM_NORMAL}, {"RandomUniform", PX_INIT_RANDOM_UNIFORM},
        {"GlorotUniform", PX_INIT_GLOROT_UNIFORM}, {"GlorotNormal", PX_INIT_GLOROT_NORMAL},
        {"HeUniform", PX_INIT_HE_UNIFORM}, {"HeNormal", PX_INIT_HE_NORMAL},
        {"LecunUniform", PX_INIT_LECUN_UNIFORM}, {"LecunNormal", PX_INIT_LECUN_NORMAL},
        {"Zero", PX_INIT_ZEROS}, {"One", PX_INIT_ONES}, {"Orthogonal", PX_INIT_ORTHOGONAL},
        {"OrthogonalInitializer", PX_INIT_ORTHOGONAL} /* Keras 3.0 and 3.1's class name */};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (same_name(cls, table[i].name)) init.kind = table[i].kind;
    if (same_name(cls, "VarianceScaling")) {
        /* K2.2 spells the glorot/he/lecun family as VarianceScaling */
        double scale = px_json_get_number(cfg, "scale", 1.0);
        const char *mode = px_json_get_string(cfg, "mode", "fan_in");
        const char *dist = px_json_get_string(cfg, "distribution", "truncated_normal");
        bool uni = strcmp(dist, "uniform") == 0;
        if (scale == 1.0 && strcmp(mode, "fan_avg") == 0) init.kind = uni ? PX_INIT_GLOROT_UNIFORM : PX_INIT_GLOROT_NORMAL;
        else if (scale == 2.0 && strcmp(mode, "fan_in") == 0) init.kind = uni ? PX_INIT_HE_UNIFORM : PX_INIT_HE_NORMAL;
        else if (scale == 1.0 && strcmp(mode, "fan_in") == 0) init.kind = uni ? PX_INIT_LECUN_UNIFORM : PX_INIT_LECUN_NORMAL;
        else
            return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s': VarianceScaling with scale %g, mode '%s' is not supported",
                                px_lc_name(c), key, scale, mode);
    }
    if (init.kind == PX_INIT_DEFAULT)
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s': initializer '%s' is not supported",
                            px_lc_name(c), key, cls);
    init.value = (float)px_json_get_number(cfg, "value", 0);
    init.mean = (float)px_json_get_number(cfg, "mean", 0);
    init.stddev = (float)px_json_get_number(cfg, "stddev", 0.05);
    init.minval = (float)px_json_get_number(cfg, "minval", -0.05);
    init.maxval = (float)px_json_get_number(cfg, "maxval", 0.05);
    if (init.kind == PX_INIT_ORTHOGONAL) init.gain = (float)px_json_get_number(cfg, "gain", 1.0);
    *out = init;
    return PX_OK;
}

px_status px_lc_get_regularizer(const px_json *c, const char *key, px_regularizer *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    const char *cls = px_json_get_string(v, "class_name", NULL);
    const px_json *cfg = px_json_get(v, "config");
    if (!cls) return bad(c, key, "null or a {\"class_name\", \"config\"} regularizer");
    if (!same_name(cls, "L1L2") && !same_name(cls, "L1") && !same_name(cls, "L2"))
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s': regularizer '%s' is not supported",
                            px_lc_name(c), key, cls);
    /* K3's L1 / L2 take a single value; K2's take l1 / l2 */
    px_regularizer r = {.l1 = (float)px_json_get_number(cfg, "l1", 0), .l2 = (float)px_json_get_number(cfg, "l2", 0)};
    *out = r;
    return PX_OK;
}

px_status px_lc_get_activation(const px_json *c, const char *key, px_activation *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    const char *name = px_json_is_string(v) ? px_json_string(v) : px_json_get_string(v, "config", NULL);
    if (!name && px_json_is_object(v)) name = px_json_get_string(v, "class_name", NULL);
    if (!name) return bad(c, key, "an activation name");
    px_activation a;
    /* an activation in Keras 3's serialised form is Keras 3's whatever the file says */
    int major = px_json_is_object(v) && px_json_get(v, "module") ? 3 : keras_major;
    if (px_activation_from_keras(name, major, &a) != PX_OK)
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s': activation '%s' is not supported",
                            px_lc_name(c), key, name);
    *out = a;
    return PX_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

px_status px_lc_expect_null(const px_json *c, const char *key) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    /* what changes only training (weight constraints, activity penalties, dropout's
     * noise shape) does not stop a model that predicts: it is left out, and said so */
    if (ends_with(key, "_constraint") || strcmp(key, "activity_regularizer") == 0 || strcmp(key, "noise_shape") == 0) {
        const char *what = px_json_get_string(v, "class_name", px_json_is_string(v) ? px_json_string(v) : "set");
        px_warn("layer '%s': config key '%s' (%s) is left out: Plexus has no %s; predictions are unaffected, training "
                "differs from Keras's", px_lc_name(c), key, what,
                ends_with(key, "_constraint") ? "weight constraints" : strcmp(key, "noise_shape") == 0 ? "dropout noise shapes" : "activity regularizers");
        return PX_OK;
    }
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s' is set, which Plexus does not support",
                        px_lc_name(c), key);
}

const char *px_lc_dtype_name(const px_json *c) {
    const px_json *v = px_json_get(c, "dtype");
    if (!v || px_json_is_null(v)) return "float32";
    return px_json_is_string(v) ? px_json_string(v) : px_json_get_string(px_json_get(v, "config"), "name", NULL);
}

bool px_lc_dtype_is_float(const char *name) {
    static const char *const floats[] = {"float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"};
    for (size_t i = 0; name && i < sizeof floats / sizeof floats[0]; i++)
        if (strcmp(name, floats[i]) == 0) return true;
    return false;
}

px_status px_lc_check_dtype(const px_json *c) {
    const char *name = px_lc_dtype_name(c);
    if (!name) return bad(c, "dtype", "a dtype name or policy");
    if (!px_lc_dtype_is_float(name))
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': dtype '%s' is not supported (floating dtypes and policies are computed in float32)",
                            px_lc_name(c), name);
    return PX_OK;
}
