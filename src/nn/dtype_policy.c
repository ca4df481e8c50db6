/* Dtype policies (Keras's mixed_precision): the global policy, each layer's, their
 * names, and the policy in a layer config. The ops read the policy through their
 * nodes (px_node.bf16, set while a layer applies: src/nn/layer.c). */
#include <string.h>

#include "backend/cpu/gemm_bf16.h"
#include "formats/json.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"
#include "plexus/mixed_precision.h"

static bool global_bf16;

bool px_mixed_bfloat16_supported(void) { return px_bf16_supported(NULL); }

/* The policy named `name` as a bf16 flag; an error for any other name or where
 * mixed_bfloat16 cannot run. `who` names the setter for the message. */
static px_status parse_policy(const char *who, const char *name, bool *bf16) {
    if (name && strcmp(name, "float32") == 0) {
        *bf16 = false;
        return PX_OK;
    }
    if (!name || strcmp(name, "mixed_bfloat16") != 0)
        return px_set_error(PX_ERR_ARG, "%s: dtype policy '%s' is not supported (float32 or mixed_bfloat16)", who,
                            name ? name : "(null)");
    const char *why = NULL;
    if (!px_bf16_supported(&why))
        return px_set_error(PX_ERR_UNSUPPORTED, "%s: mixed_bfloat16 cannot run here: %s", who, why);
    *bf16 = true;
    return PX_OK;
}

px_status px_mixed_precision_set_global_policy(const char *name) {
    bool bf16 = false;
    px_status st = parse_policy("set_global_policy", name, &bf16);
    if (st == PX_OK) global_bf16 = bf16;
    return st;
}

const char *px_mixed_precision_global_policy(void) { return global_bf16 ? "mixed_bfloat16" : "float32"; }

bool px_dtype_policy_global_bf16(void) { return global_bf16; }

px_status px_layer_set_dtype_policy(px_layer *l, const char *name) {
    if (!l) return px_set_error(PX_ERR_ARG, "px_layer_set_dtype_policy: layer is NULL");
    if (l->built)
        return px_set_error(PX_ERR_STATE, "layer '%s': the dtype policy is set before the layer is first applied",
                            px_layer_name(l));
    bool bf16 = false;
    px_status st = parse_policy(px_layer_name(l) ? px_layer_name(l) : "layer", name, &bf16);
    if (st == PX_OK) l->bf16 = bf16;
    return st;
}

const char *px_layer_dtype_policy(const px_layer *l) { return l && l->bf16 ? "mixed_bfloat16" : "float32"; }

px_status px_lc_set_layer_dtype(px_json *c, const px_layer *l) {
    if (!l->bf16) return px_lc_set_string(c, "dtype", "float32");
    px_json *pc = px_json_new_object();
    if (!pc || px_lc_set_string(pc, "name", "mixed_bfloat16")) {
        px_json_free(pc);
        return px_last_status();
    }
    return px_json_set(c, "dtype", px_lc_class_object("Policy", pc));
}
