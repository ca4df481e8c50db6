/* The C exporter's option without <math.h> (px_export_c_options.no_math): the
 * generated code is written against C99's math names (expf, tanhf, INFINITY,
 * ...); this pass finds the ones it uses, renames them to the code's own
 * functions (pxm_expf, ...) and emits those, dependencies first. The
 * approximations are Cephes's single-precision ones (expf, logf, tanhf),
 * Kahan's forms of expm1 and log1p, Numerical Recipes' erfc and Newton's
 * square root; their largest errors against libm are measured by
 * test_export_c_nomath and given in docs/export.md. */
#include <stdlib.h>
#include <string.h>

#include "saving/export_c_internal.h"

typedef struct mathfn {
    const char *name;  /* the C99 name the emitters write */
    const char *repl;  /* what it becomes in the code (NULL: not a name the code uses) */
    const char *deps;  /* the other entries its text calls, space-separated */
    const char *text;  /* its definition, as pxm_<name> */
} mathfn;

/* In dependency order: an entry only uses entries above it. */
static const mathfn fns[] = {
    {"pxm_from_bits", NULL, "",
     "/* a float from its IEEE 754 bits, and back (union punning is C99) */\n"
     "static float pxm_from_bits(uint32_t u) {\n    union { uint32_t u; float f; } v;\n    v.u = u;\n    return v.f;\n}\n"},
    {"pxm_to_bits", NULL, "",
     "static uint32_t pxm_to_bits(float f) {\n    union { uint32_t u; float f; } v;\n    v.f = f;\n    return v.u;\n}\n"},
    {"INFINITY", "pxm_inf()", "pxm_from_bits", "static float pxm_inf(void) { return pxm_from_bits(0x7f800000u); }\n"},
    {"NAN", "pxm_nan()", "pxm_from_bits", "static float pxm_nan(void) { return pxm_from_bits(0x7fc00000u); }\n"},
    {"fabsf", "pxm_fabsf", "pxm_from_bits pxm_to_bits", "static float pxm_fabsf(float v) { return pxm_from_bits(pxm_to_bits(v) & 0x7fffffffu); }\n"},
    {"fminf", "pxm_fminf", "", "static float pxm_fminf(float a, float b) { return a != a ? b : (b != b ? a : (b < a ? b : a)); }\n"},
    {"fmaxf", "pxm_fmaxf", "", "static float pxm_fmaxf(float a, float b) { return a != a ? b : (b != b ? a : (b > a ? b : a)); }\n"},
    {"expf", "pxm_expf", "pxm_from_bits",
     "/* e^v: v = k ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts), e^r by Cephes's polynomial, times 2^k */\n"
     "static float pxm_expf(float v) {\n"
     "    float n, r, p;\n    int k;\n"
     "    if (v != v) return v;\n"
     "    if (v > 88.7228394f) return pxm_from_bits(0x7f800000u);\n"
     "    if (v < -103.972084f) return 0.0f;\n"
     "    n = v * 1.44269504f;\n"
     "    k = (int)(n >= 0.0f ? n + 0.5f : n - 0.5f);\n"
     "    n = (float)k;\n"
     "    r = v - n * 0.693359375f;\n"
     "    r = r + n * 2.12194440e-4f;\n"
     "    p = 1.9875691500e-4f;\n"
     "    p = p * r + 1.3981999507e-3f;\n"
     "    p = p * r + 8.3334519073e-3f;\n"
     "    p = p * r + 4.1665795894e-2f;\n"
     "    p = p * r + 1.6666665459e-1f;\n"
     "    p = p * r + 5.0000001201e-1f;\n"
     "    p = p * r * r + r + 1.0f;\n"
     "    /* 2^k as one or two normal factors (k runs from -150 to 128) */\n"
     "    if (k > 127) return p * 2.0f * pxm_from_bits((uint32_t)(k - 1 + 127) << 23);\n"
     "    if (k < -126) return p * pxm_from_bits(1u << 23) * pxm_from_bits((uint32_t)(k + 126 + 127) << 23);\n"
     "    return p * pxm_from_bits((uint32_t)(k + 127) << 23);\n"
     "}\n"},
    {"logf", "pxm_logf", "pxm_from_bits pxm_to_bits",
     "/* ln v: v = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m by Cephes's polynomial in m - 1 */\n"
     "static float pxm_logf(float v) {\n"
     "    uint32_t u = pxm_to_bits(v);\n    int e = 0;\n    float x, z, y, fe;\n"
     "    if (v != v || u == 0x7f800000u) return v;\n"
     "    if (v < 0.0f) return pxm_from_bits(0x7fc00000u);\n"
     "    if (v == 0.0f) return pxm_from_bits(0xff800000u);\n"
     "    if ((u & 0x7f800000u) == 0) { /* subnormal: times 2^25 first */\n"
     "        u = pxm_to_bits(v * 33554432.0f);\n        e = -25;\n    }\n"
     "    e += (int)((u >> 23) & 0xffu) - 126;\n"
     "    x = pxm_from_bits((u & 0x007fffffu) | 0x3f000000u); /* in [0.5, 1) */\n"
     "    if (x < 0.707106781f) {\n        e -= 1;\n        x = x + x - 1.0f;\n    } else {\n        x = x - 1.0f;\n    }\n"
     "    z = x * x;\n"
     "    y = ((((((((7.0376836292e-2f * x - 1.1514610310e-1f) * x + 1.1676998740e-1f) * x - 1.2420140846e-1f) * x +\n"
     "              1.4249322787e-1f) * x - 1.6668057665e-1f) * x + 2.0000714765e-1f) * x - 2.4999993993e-1f) * x +\n"
     "         3.3333331174e-1f) * x * z;\n"
     "    fe = (float)e;\n"
     "    y += -2.12194440e-4f * fe;\n"
     "    y += -0.5f * z;\n"
     "    return x + y + 0.693359375f * fe;\n"
     "}\n"},
    {"expm1f", "pxm_expm1f", "expf logf",
     "/* e^v - 1 without cancellation near 0 (Kahan): (u - 1) v / ln u with u = e^v rounded */\n"
     "static float pxm_expm1f(float v) {\n"
     "    float u = pxm_expf(v);\n"
     "    if (u == 1.0f || v != v) return v;\n"
     "    if (u - 1.0f == -1.0f) return -1.0f;\n"
     "    if (v > 88.0f) return u;\n"
     "    return (u - 1.0f) * v / pxm_logf(u);\n"
     "}\n"},
    {"log1pf", "pxm_log1pf", "logf",
     "/* ln(1 + v) without cancellation near 0 (Kahan): ln u * v / (u - 1) with u = 1 + v rounded */\n"
     "static float pxm_log1pf(float v) {\n"
     "    float u = 1.0f + v;\n"
     "    if (u == 1.0f || v != v) return v;\n"
     "    if (u > 3.0e38f) return pxm_logf(u);\n"
     "    return pxm_logf(u) * v / (u - 1.0f);\n"
     "}\n"},
    {"tanhf", "pxm_tanhf", "expf",
     "/* tanh v: Cephes's odd polynomial below 0.625, else 1 - 2 / (e^2|v| + 1) */\n"
     "static float pxm_tanhf(float v) {\n"
     "    float a = v < 0.0f ? -v : v, z;\n"
     "    if (v != v) return v;\n"
     "    if (a > 9.0f) return v > 0.0f ? 1.0f : -1.0f;\n"
     "    if (a >= 0.625f) {\n        z = 1.0f - 2.0f / (pxm_expf(a + a) + 1.0f);\n        return v < 0.0f ? -z : z;\n    }\n"
     "    z = v * v;\n"
     "    return ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -\n"
     "            3.33332819422e-1f) * z * v + v;\n"
     "}\n"},
    {"erfcf", "pxm_erfcf", "expf pxm_from_bits pxm_to_bits",
     "/* erfc v: Numerical Recipes' Chebyshev fit (fractional error below 1.2e-7 in exact arithmetic), with\n"
     " * e^-z^2 as e^-h^2 e^((h - z)(h + z)), h = z cut to 12 bits: h^2 is exact, so the large exponent is not rounded */\n"
     "static float pxm_erfcf(float v) {\n"
     "    float z = v < 0.0f ? -v : v, t = 1.0f / (1.0f + 0.5f * z), h, r;\n"
     "    if (v != v) return v;\n"
     "    h = pxm_from_bits(pxm_to_bits(z) & 0xfffff000u);\n"
     "    r = t * pxm_expf(-h * h) *\n"
     "        pxm_expf((h - z) * (h + z) - 1.26551223f +\n"
     "                 t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f +\n"
     "                 t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));\n"
     "    return v >= 0.0f ? r : 2.0f - r;\n"
     "}\n"},
    {"sqrtf", "pxm_sqrtf", "pxm_from_bits pxm_to_bits",
     "/* square root: a first guess from the exponent's bits halved, then Newton's iteration */\n"
     "static float pxm_sqrtf(float v) {\n"
     "    float y, s = 1.0f;\n    int i;\n"
     "    if (v != v || v < 0.0f) return pxm_from_bits(0x7fc00000u);\n"
     "    if (v == 0.0f || pxm_to_bits(v) == 0x7f800000u) return v;\n"
     "    if (v < 1.17549435e-38f) { /* subnormal: times 2^24, the root times 2^-12 */\n        v *= 16777216.0f;\n        s = 1.0f / 4096.0f;\n    }\n"
     "    y = pxm_from_bits(0x1fbd1df5u + (pxm_to_bits(v) >> 1));\n"
     "    for (i = 0; i < 4; i++) y = 0.5f * (y + v / y);\n"
     "    return y * s;\n"
     "}\n"},
};

enum { N_FNS = sizeof fns / sizeof fns[0] };

static bool ident_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

static int find_fn(const char *s, size_t n) {
    for (int i = 0; i < N_FNS; i++)
        if (strlen(fns[i].name) == n && memcmp(fns[i].name, s, n) == 0) return i;
    return -1;
}

/* Marks entry i and what it needs. */
static void need(bool *used, int i) {
    if (used[i]) return;
    used[i] = true;
    const char *d = fns[i].deps;
    while (*d) {
        size_t n = strcspn(d, " ");
        int k = find_fn(d, n);
        if (k >= 0) need(used, k);
        d += n;
        while (*d == ' ') d++;
    }
}

px_status px_xnomath(const px_cbuf *code, px_cbuf *math, px_cbuf *out) {
    bool used[N_FNS] = {false};
    const char *s = code->s ? code->s : "";
    for (size_t i = 0; s[i];) {
        if (!ident_char(s[i])) {
            px_cbuf_printf(out, "%c", s[i++]);
            continue;
        }
        size_t n = 0;
        while (ident_char(s[i + n])) n++;
        int k = (s[i] >= '0' && s[i] <= '9') ? -1 : find_fn(s + i, n); /* numbers (1e-05f) are not names */
        if (k >= 0 && fns[k].repl) {
            need(used, k);
            px_cbuf_printf(out, "%s", fns[k].repl);
        } else {
            px_cbuf_printf(out, "%.*s", (int)n, s + i);
        }
        i += n;
    }
    for (int i = 0; i < N_FNS; i++)
        if (used[i]) px_cbuf_printf(math, "\n%s", fns[i].text);
    if (code->failed || math->failed || out->failed) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
    return PX_OK;
}
