/* Keras's image augmentation layers: RandomFlip, RandomRotation, RandomZoom,
 * RandomTranslation, RandomCrop, RandomContrast and RandomBrightness, each a
 * call of its op (src/ops/augment.c), which is random in training and the
 * identity in inference. Configs use Keras's keys; a factor is kept as written
 * (one number or a pair) so a file reads back as it was. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_config.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef enum aug_kind { A_FLIP, A_ROTATION, A_ZOOM, A_TRANSLATION, A_CROP, A_CONTRAST, A_BRIGHTNESS } aug_kind;

typedef struct aug_state {
    aug_kind kind;
    px_factor f1, f2;  /* factor or height_factor; width_factor */
    bool has_f2;       /* RandomZoom: a width factor was given */
    px_flip_mode mode;
    int height, width; /* RandomCrop */
    float vmin, vmax;  /* value range of contrast and brightness */
    px_augment_options o;
} aug_state;

/* A factor's range: one number f stands for [-|f|, |f|] (RandomContrast: [f, f],
 * read as [1 - f, 1 + f]); a pair is sorted. */
static void range_of(px_factor f, bool contrast, float *lo, float *hi) {
    if (f.pair) *lo = f.a < f.b ? f.a : f.b, *hi = f.a < f.b ? f.b : f.a;
    else if (contrast) *lo = *hi = f.a;
    else *lo = -fabsf(f.a), *hi = fabsf(f.a);
}

static px_node *aug_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const aug_state *s = l->state;
    float a, b, c = 0, d = 0;
    range_of(s->f1, s->kind == A_CONTRAST, &a, &b);
    if (s->has_f2 || s->kind == A_TRANSLATION) range_of(s->f2, false, &c, &d);
    px_node *y = NULL;
    switch (s->kind) {
    case A_FLIP: y = px_random_flip(in[0], s->mode, &s->o); break;
    case A_ROTATION: y = px_random_rotation(in[0], a, b, &s->o); break;
    case A_ZOOM: y = px_random_zoom(in[0], a, b, c, d, !s->has_f2, &s->o); break;
    case A_TRANSLATION: y = px_random_translation(in[0], a, b, c, d, &s->o); break;
    case A_CROP: y = px_random_crop(in[0], s->height, s->width, &s->o); break;
    case A_CONTRAST: y = px_random_contrast(in[0], a, b, s->vmin, s->vmax, &s->o); break;
    case A_BRIGHTNESS: y = px_random_brightness(in[0], a, b, s->vmin, s->vmax, &s->o); break;
    }
    if (!y) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_set_error(px_last_status(), "layer '%s' (%s): %s", px_layer_name(l), l->def->class_name, msg);
    }
    return y;
}

/* ---- configs ---- */

static const char *const fill_names[] = {"reflect", "wrap", "constant", "nearest"};
static const char *const flip_names[] = {"horizontal_and_vertical", "horizontal", "vertical"};

static px_status set_factor(px_json *c, const char *key, px_factor f) {
    if (!f.pair) return px_lc_set_float(c, key, f.a);
    px_json *arr = px_json_new_array();
    px_status st = arr ? PX_OK : px_last_status();
    if (!st) st = px_json_push(arr, px_json_new_number(px_lc_float(f.a)));
    if (!st) st = px_json_push(arr, px_json_new_number(px_lc_float(f.b)));
    if (st) {
        px_json_free(arr);
        return st;
    }
    return px_json_set(c, key, arr);
}

static px_status set_seed(px_json *c, uint32_t seed) {
    return seed ? px_lc_set_int(c, "seed", seed) : px_lc_set_null(c, "seed");
}

static px_status set_fill(px_json *c, const px_augment_options *o) {
    px_status st = px_lc_set_string(c, "fill_mode", fill_names[o->fill_mode]);
    if (!st) st = px_lc_set_float(c, "fill_value", o->fill_value);
    if (!st) st = px_lc_set_string(c, "interpolation", o->nearest ? "nearest" : "bilinear");
    return st;
}

static px_status set_range(px_json *c, float lo, float hi) {
    px_json *arr = px_json_new_array();
    px_status st = arr ? PX_OK : px_last_status();
    if (!st) st = px_json_push(arr, px_json_new_number(px_lc_float(lo)));
    if (!st) st = px_json_push(arr, px_json_new_number(px_lc_float(hi)));
    if (st) {
        px_json_free(arr);
        return st;
    }
    return px_json_set(c, "value_range", arr);
}

/* Keras 2's keys, as its layers write them; RandomContrast's value_range is
 * written only when not [0, 255] (Keras 2's layer has no such key). */
static px_status aug_write_config(const px_layer *l, px_json *c) {
    const aug_state *s = l->state;
    px_status st = PX_OK;
    switch (s->kind) {
    case A_FLIP: st = px_lc_set_string(c, "mode", flip_names[s->mode]); break;
    case A_ROTATION:
        st = set_factor(c, "factor", s->f1);
        if (!st) st = set_fill(c, &s->o);
        break;
    case A_ZOOM:
    case A_TRANSLATION:
        st = set_factor(c, "height_factor", s->f1);
        if (!st) st = s->has_f2 || s->kind == A_TRANSLATION ? set_factor(c, "width_factor", s->f2) : px_lc_set_null(c, "width_factor");
        if (!st) st = set_fill(c, &s->o);
        break;
    case A_CROP:
        st = px_lc_set_int(c, "height", s->height);
        if (!st) st = px_lc_set_int(c, "width", s->width);
        break;
    case A_CONTRAST:
        st = set_factor(c, "factor", s->f1);
        if (!st && (s->vmin != 0 || s->vmax != 255)) st = set_range(c, s->vmin, s->vmax);
        break;
    case A_BRIGHTNESS:
        st = set_factor(c, "factor", s->f1);
        if (!st) st = set_range(c, s->vmin, s->vmax);
        break;
    }
    if (!st) st = set_seed(c, s->o.seed);
    return st;
}

/* A factor: a number or a list of two (required unless `optional`; a null
 * optional factor leaves *given false). */
static px_status get_factor(const px_json *c, const char *key, bool optional, px_factor *f, bool *given) {
    const px_json *v = px_json_get(c, key);
    if (given) *given = false;
    if (!v || px_json_is_null(v)) {
        if (optional) return PX_OK;
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' is missing", px_lc_name(c), key);
    }
    if (px_json_is_number(v)) {
        *f = (px_factor){(float)px_json_number(v), 0, false};
    } else if (px_json_is_array(v) && px_json_len(v) == 2 && px_json_is_number(px_json_at(v, 0)) &&
               px_json_is_number(px_json_at(v, 1))) {
        *f = (px_factor){(float)px_json_number(px_json_at(v, 0)), (float)px_json_number(px_json_at(v, 1)), true};
    } else {
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' must be a number or a list of two numbers",
                            px_lc_name(c), key);
    }
    if (given) *given = true;
    return PX_OK;
}

static px_status get_name(const px_json *c, const char *key, const char *const *names, int n, int def, int *out) {
    const px_json *v = px_json_get(c, key);
    *out = def;
    if (!v) return PX_OK;
    const char *s = px_json_string(v);
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return *out = i, PX_OK;
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s': config key '%s' has an unknown value%s%s", px_lc_name(c), key,
                        s ? " " : "", s ? s : "");
}

static px_status get_common(const px_json *c, const char *cls, px_augment_options *o) {
    int fill = PX_FILL_REFLECT, interp = 0;
    static const char *const interps[] = {"bilinear", "nearest"};
    int64_t seed = 0;
    const px_json *sv = px_json_get(c, "seed");
    if (get_name(c, "fill_mode", fill_names, 4, PX_FILL_REFLECT, &fill) ||
        get_name(c, "interpolation", interps, 2, 0, &interp) || px_lc_get_float(c, "fill_value", false, &o->fill_value))
        return px_last_status();
    if (sv && !px_json_is_null(sv)) {
        if (px_lc_get_int(c, "seed", false, &seed)) return px_last_status();
        o->seed = (uint32_t)seed;
    }
    o->fill_mode = (px_fill_mode)fill;
    o->nearest = interp == 1;
    return px_cc_check_channels_last(c, cls);
}

static px_status get_range(const px_json *c, float *lo, float *hi) {
    const px_json *v = px_json_get(c, "value_range");
    *lo = 0, *hi = 255;
    if (!v || px_json_is_null(v)) return PX_OK;
    if (!px_json_is_array(v) || px_json_len(v) != 2 || !px_json_is_number(px_json_at(v, 0)) ||
        !px_json_is_number(px_json_at(v, 1)))
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'value_range' must be a list of two numbers",
                            px_lc_name(c));
    float a = (float)px_json_number(px_json_at(v, 0)), b = (float)px_json_number(px_json_at(v, 1));
    *lo = a < b ? a : b, *hi = a < b ? b : a; /* Keras sorts it */
    return PX_OK;
}

static px_layer *from_config(const px_json *c, aug_kind kind, const char *cls) {
    px_augment_options o = {0};
    px_factor f1 = {0}, f2 = {0};
    bool has_f2 = false;
    float lo = 0, hi = 255;
    if (get_common(c, cls, &o)) return NULL;
    px_layer *l = NULL;
    switch (kind) {
    case A_FLIP: {
        int mode;
        if (get_name(c, "mode", flip_names, 3, PX_FLIP_HORIZONTAL_AND_VERTICAL, &mode)) return NULL;
        l = px_random_flip_layer((px_flip_mode)mode, &o);
        break;
    }
    case A_ROTATION:
        if (get_factor(c, "factor", false, &f1, NULL)) return NULL;
        l = px_random_rotation_layer(f1, &o);
        break;
    case A_ZOOM:
        if (get_factor(c, "height_factor", false, &f1, NULL) || get_factor(c, "width_factor", true, &f2, &has_f2))
            return NULL;
        l = px_random_zoom_layer(f1, has_f2 ? &f2 : NULL, &o);
        break;
    case A_TRANSLATION:
        if (get_factor(c, "height_factor", false, &f1, NULL) || get_factor(c, "width_factor", false, &f2, NULL))
            return NULL;
        l = px_random_translation_layer(f1, f2, &o);
        break;
    case A_CROP: {
        int64_t h = 0, w = 0;
        if (px_lc_get_int(c, "height", true, &h) || px_lc_get_int(c, "width", true, &w)) return NULL;
        if (h < 1 || w < 1 || h > 65536 || w > 65536) {
            px_set_error(PX_ERR_FORMAT, "layer '%s': height %lld and width %lld must be in 1..65536", px_lc_name(c),
                         (long long)h, (long long)w);
            return NULL;
        }
        l = px_random_crop_layer((int)h, (int)w, &o);
        break;
    }
    case A_CONTRAST:
    case A_BRIGHTNESS:
        if (get_factor(c, "factor", false, &f1, NULL) || get_range(c, &lo, &hi)) return NULL;
        l = kind == A_CONTRAST ? px_random_contrast_layer(f1, lo, hi, &o) : px_random_brightness_layer(f1, lo, hi, &o);
        break;
    }
    return l ? l : px_cc_config_error(c);
}

static px_layer *flip_from(const px_json *c) { return from_config(c, A_FLIP, "RandomFlip"); }
static px_layer *rotation_from(const px_json *c) { return from_config(c, A_ROTATION, "RandomRotation"); }
static px_layer *zoom_from(const px_json *c) { return from_config(c, A_ZOOM, "RandomZoom"); }
static px_layer *translation_from(const px_json *c) { return from_config(c, A_TRANSLATION, "RandomTranslation"); }
static px_layer *crop_from(const px_json *c) { return from_config(c, A_CROP, "RandomCrop"); }
static px_layer *contrast_from(const px_json *c) { return from_config(c, A_CONTRAST, "RandomContrast"); }
static px_layer *brightness_from(const px_json *c) { return from_config(c, A_BRIGHTNESS, "RandomBrightness"); }

#define AUG_KIND(var, cls, base, from)                                                                                 \
    const px_layer_kind var = {.def = {.class_name = cls, .call = aug_call},                                          \
                               .base_name = base,                                                                      \
                               .state_size = sizeof(aug_state),                                                        \
                               .write_config = aug_write_config,                                                       \
                               .from_config = from};

extern const px_layer_kind px_random_flip_kind, px_random_rotation_kind, px_random_zoom_kind,
    px_random_translation_kind, px_random_crop_kind, px_random_contrast_kind, px_random_brightness_kind;
AUG_KIND(px_random_flip_kind, "RandomFlip", "random_flip", flip_from)
AUG_KIND(px_random_rotation_kind, "RandomRotation", "random_rotation", rotation_from)
AUG_KIND(px_random_zoom_kind, "RandomZoom", "random_zoom", zoom_from)
AUG_KIND(px_random_translation_kind, "RandomTranslation", "random_translation", translation_from)
AUG_KIND(px_random_crop_kind, "RandomCrop", "random_crop", crop_from)
AUG_KIND(px_random_contrast_kind, "RandomContrast", "random_contrast", contrast_from)
AUG_KIND(px_random_brightness_kind, "RandomBrightness", "random_brightness", brightness_from)

/* ---- constructors ---- */

static bool factor_ok(px_factor f, float min, float max) {
    if (!isfinite(f.a) || (f.pair && !isfinite(f.b))) return false;
    if (!f.pair) return fabsf(f.a) <= max;
    return f.a >= min && f.a <= max && f.b >= min && f.b <= max;
}

static px_layer *new_aug(const px_layer_kind *kind, aug_state s, const px_augment_options *o) {
    if (o) s.o = *o;
    const char *cls = kind->def.class_name;
    if ((unsigned)s.o.fill_mode > PX_FILL_NEAREST || !isfinite(s.o.fill_value)) {
        px_set_error(PX_ERR_ARG, "%s: fill mode %d, fill value %g", cls, (int)s.o.fill_mode, s.o.fill_value);
        return NULL;
    }
    aug_state *p = malloc(sizeof *p);
    if (!p) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    *p = s;
    return px_layer_new_kind(kind, p, NULL);
}

px_layer *px_random_flip_layer(px_flip_mode mode, const px_augment_options *o) {
    if ((unsigned)mode > PX_FLIP_VERTICAL) {
        px_set_error(PX_ERR_ARG, "RandomFlip: unknown mode %d", (int)mode);
        return NULL;
    }
    return new_aug(&px_random_flip_kind, (aug_state){.kind = A_FLIP, .mode = mode}, o);
}

px_layer *px_random_rotation_layer(px_factor factor, const px_augment_options *o) {
    if (!factor_ok(factor, -1e6f, 1e6f)) {
        px_set_error(PX_ERR_ARG, "RandomRotation: the factor must be finite");
        return NULL;
    }
    return new_aug(&px_random_rotation_kind, (aug_state){.kind = A_ROTATION, .f1 = factor}, o);
}

px_layer *px_random_zoom_layer(px_factor height, const px_factor *width, const px_augment_options *o) {
    if (!factor_ok(height, -1, 1) || (width && !factor_ok(*width, -1, 1))) {
        px_set_error(PX_ERR_ARG, "RandomZoom: the factors must be numbers (or pairs) in [-1, 1]");
        return NULL;
    }
    return new_aug(&px_random_zoom_kind,
                   (aug_state){.kind = A_ZOOM, .f1 = height, .f2 = width ? *width : (px_factor){0}, .has_f2 = width != NULL}, o);
}

px_layer *px_random_translation_layer(px_factor height, px_factor width, const px_augment_options *o) {
    if (!factor_ok(height, -1, 1) || !factor_ok(width, -1, 1)) {
        px_set_error(PX_ERR_ARG, "RandomTranslation: the factors must be numbers (or pairs) in [-1, 1]");
        return NULL;
    }
    return new_aug(&px_random_translation_kind, (aug_state){.kind = A_TRANSLATION, .f1 = height, .f2 = width}, o);
}

px_layer *px_random_crop_layer(int height, int width, const px_augment_options *o) {
    if (height < 1 || width < 1) {
        px_set_error(PX_ERR_ARG, "RandomCrop: size %d x %d must be positive", height, width);
        return NULL;
    }
    return new_aug(&px_random_crop_kind, (aug_state){.kind = A_CROP, .height = height, .width = width}, o);
}

static bool value_range_ok(float *lo, float *hi, const char *cls) {
    if (*lo == 0 && *hi == 0) *hi = 255; /* zero: Keras's [0, 255] */
    if (!isfinite(*lo) || !isfinite(*hi) || *lo >= *hi) {
        px_set_error(PX_ERR_ARG, "%s: value range [%g, %g] must be finite and increasing", cls, *lo, *hi);
        return false;
    }
    return true;
}

px_layer *px_random_contrast_layer(px_factor factor, float value_min, float value_max, const px_augment_options *o) {
    float lo, hi;
    range_of(factor, true, &lo, &hi);
    if (!factor_ok(factor, 0, 1e6f) || lo < 0 || lo > 1 || hi < 0) {
        px_set_error(PX_ERR_ARG, "RandomContrast: the factor must be >= 0 (its lower part at most 1)");
        return NULL;
    }
    if (!value_range_ok(&value_min, &value_max, "RandomContrast")) return NULL;
    return new_aug(&px_random_contrast_kind,
                   (aug_state){.kind = A_CONTRAST, .f1 = factor, .vmin = value_min, .vmax = value_max}, o);
}

px_layer *px_random_brightness_layer(px_factor factor, float value_min, float value_max, const px_augment_options *o) {
    if (!factor_ok(factor, -1, 1)) {
        px_set_error(PX_ERR_ARG, "RandomBrightness: the factor must be a number (or a pair) in [-1, 1]");
        return NULL;
    }
    if (!value_range_ok(&value_min, &value_max, "RandomBrightness")) return NULL;
    return new_aug(&px_random_brightness_kind,
                   (aug_state){.kind = A_BRIGHTNESS, .f1 = factor, .vmin = value_min, .vmax = value_max}, o);
}
