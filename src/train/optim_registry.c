/* The table of built-in optimizer kinds. A new optimizer is one file
 * (optim_<name>.c defining its px_optimizer_def) and one line here. */
#include <ctype.h>
#include <string.h>

#include "train/optimizer_kind.h"

extern const px_optimizer_def px_sgd_optimizer, px_adam_optimizer, px_adamw_optimizer, px_nadam_optimizer,
    px_rmsprop_optimizer, px_adagrad_optimizer, px_adadelta_optimizer, px_adamax_optimizer, px_ftrl_optimizer,
    px_lion_optimizer;

const px_optimizer_def *const px_optimizer_defs[] = {
    &px_sgd_optimizer,
    &px_adam_optimizer,
    &px_adamw_optimizer,
    &px_nadam_optimizer,
    &px_rmsprop_optimizer,
    &px_adagrad_optimizer,
    &px_adadelta_optimizer,
    &px_adamax_optimizer,
    &px_ftrl_optimizer,
    &px_lion_optimizer,
    NULL,
};

const px_optimizer_def *px_optimizer_def_of_kind(px_optimizer_kind kind) {
    for (int i = 0; px_optimizer_defs[i]; i++)
        if (px_optimizer_defs[i]->kind == kind) return px_optimizer_defs[i];
    return NULL;
}

static bool same_ignoring_case(const char *a, const char *b) {
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) a++, b++;
    return !*a && !*b;
}

const px_optimizer_def *px_optimizer_def_find(const char *name) {
    for (int i = 0; name && px_optimizer_defs[i]; i++)
        if (same_ignoring_case(name, px_optimizer_defs[i]->name)) return px_optimizer_defs[i];
    return NULL;
}
