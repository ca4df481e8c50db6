/* The JSON DOM: parsing Keras configs, exact json.dumps output, and every way
 * malformed text must fail with a line/column message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "px_test.h"

static px_json *parse(const char *s) {
    px_json *j = NULL;
    px_status st = px_json_parse(s, strlen(s), &j);
    if (st != PX_OK) fprintf(stderr, "  parse of %.60s failed: %s\n", s, px_last_error());
    return j;
}

/* Parses s, writes it back, and checks the text is `want` (s itself when NULL). */
static void check_round_trip(const char *s, const char *want) {
    px_json *j = parse(s);
    CHECK_NOT_NULL(j);
    char *out = NULL;
    CHECK_OK(px_json_write(j, &out));
    if (out && strcmp(out, want ? want : s) != 0) {
        px_test_fail(__FILE__, __LINE__, "round trip of %s gave %s, wanted %s", s, out, want ? want : s);
    } else {
        px_test_passed++;
    }
    /* and the output parses to an equal tree */
    px_json *k = out ? parse(out) : NULL;
    CHECK(px_json_equal(j, k));
    px_json_free(k);
    free(out);
    px_json_free(j);
}

/* Checks that s fails with PX_ERR_FORMAT and a message containing needle. */
static void check_error(const char *s, size_t len, const char *needle) {
    px_json *j = (px_json *)1;
    px_status st = px_json_parse(s, len, &j);
    if (st != PX_ERR_FORMAT) {
        px_test_fail(__FILE__, __LINE__, "parse of \"%.40s\" returned %s, expected a format error", s, px_status_name(st));
        return;
    }
    CHECK(j == NULL);
    CHECK_ERROR_HAS(needle);
}
#define BAD(s, needle) check_error(s, strlen(s), needle)

static void test_scalars_and_accessors(void) {
    px_json *j = parse(" {\"a\": 1, \"b\": -2.5, \"c\": true, \"d\": null, \"e\": \"x\", \"f\": [1, 2, 3], \"g\": {}} ");
    CHECK_NOT_NULL(j);
    CHECK(px_json_is_object(j) && px_json_len(j) == 7);
    CHECK(px_json_is_integer(px_json_get(j, "a")) && px_json_int(px_json_get(j, "a")) == 1);
    CHECK(!px_json_is_integer(px_json_get(j, "b")));
    CHECK_NEAR(px_json_number(px_json_get(j, "b")), -2.5, 0);
    CHECK(px_json_bool(px_json_get(j, "c")));
    CHECK(px_json_is_null(px_json_get(j, "d")));
    CHECK(px_json_get(j, "missing") == NULL && !px_json_is_null(px_json_get(j, "missing")));
    CHECK(strcmp(px_json_string(px_json_get(j, "e")), "x") == 0);
    px_json *f = px_json_get(j, "f");
    CHECK(px_json_is_array(f) && px_json_len(f) == 3 && px_json_int(px_json_at(f, 2)) == 3);
    CHECK(px_json_at(f, 3) == NULL && px_json_at(j, 0) == NULL);
    CHECK(px_json_is_object(px_json_get(j, "g")) && px_json_len(px_json_get(j, "g")) == 0);
    /* key order is document order */
    const char *keys = "abcdefg";
    for (size_t i = 0; i < 7; i++) CHECK(px_json_key_at(j, i)[0] == keys[i]);
    CHECK(px_json_key_at(j, 7) == NULL && px_json_value_at(j, 0) == px_json_get(j, "a"));
    /* helpers with defaults, and type mismatches falling back */
    CHECK(strcmp(px_json_get_string(j, "e", "dflt"), "x") == 0);
    CHECK(strcmp(px_json_get_string(j, "a", "dflt"), "dflt") == 0);
    CHECK(px_json_get_int(j, "a", 9) == 1 && px_json_get_int(j, "zz", 9) == 9);
    CHECK_NEAR(px_json_get_number(j, "b", 0), -2.5, 0);
    CHECK(px_json_get_bool(j, "c", false) && px_json_get_bool(j, "a", true));
    CHECK(strcmp(px_json_type_name(px_json_typeof(f)), "array") == 0);
    /* accessors on NULL and on the wrong type answer "absent" */
    CHECK(px_json_len(NULL) == 0 && px_json_string(NULL) == NULL && px_json_get(NULL, "a") == NULL);
    CHECK(px_json_string(px_json_get(j, "a")) == NULL && px_json_number(px_json_get(j, "e")) == 0);
    px_json_free(j);
}

static void test_numbers(void) {
    px_json *j = parse("[0, -0, 1e2, 1E-2, 0.5, -12.75e+1, 9223372036854775807, -9223372036854775808, "
                       "92233720368547758070, 1e999, 0.1]");
    CHECK_NOT_NULL(j);
    CHECK(px_json_is_integer(px_json_at(j, 0)) && px_json_int(px_json_at(j, 1)) == 0);
    CHECK(!px_json_is_integer(px_json_at(j, 2)) && px_json_number(px_json_at(j, 2)) == 100.0);
    CHECK(px_json_number(px_json_at(j, 3)) == 0.01);
    CHECK(px_json_number(px_json_at(j, 5)) == -127.5);
    CHECK(px_json_int(px_json_at(j, 6)) == INT64_MAX);
    CHECK(px_json_int(px_json_at(j, 7)) == INT64_MIN);
    CHECK(px_json_is_integer(px_json_at(j, 8)) && px_json_number(px_json_at(j, 8)) == 92233720368547758070.0);
    CHECK(isinf(px_json_number(px_json_at(j, 9))));
    CHECK(px_json_number(px_json_at(j, 10)) == 0.1);
    px_json_free(j);
    /* the NaN/Infinity extension Python's json module uses */
    j = parse("[NaN, Infinity, -Infinity]");
    CHECK_NOT_NULL(j);
    CHECK(isnan(px_json_number(px_json_at(j, 0))));
    CHECK(px_json_number(px_json_at(j, 1)) == INFINITY && px_json_number(px_json_at(j, 2)) == -INFINITY);
    px_json_free(j);
}

/* Float output must equal Python's repr(float) (values checked with CPython 3). */
static void test_float_output_like_python(void) {
    static const struct { double v; const char *py; } cases[] = {
        {1.0, "1.0"}, {0.001, "0.001"}, {1e-07, "1e-07"}, {0.1, "0.1"}, {0.9, "0.9"}, {0.999, "0.999"},
        {0.0010000000474974513, "0.0010000000474974513"}, {0.8999999761581421, "0.8999999761581421"},
        {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {123456789.125, "123456789.125"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-10, "1.5e-10"}, {-2.5, "-2.5"}, {-0.0, "-0.0"},
        {0.0, "0.0"}, {1e100, "1e+100"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {100.0, "100.0"}, {0.3, "0.3"},
        {2.0 / 3.0, "0.6666666666666666"}, {NAN, "NaN"}, {INFINITY, "Infinity"}, {-INFINITY, "-Infinity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        px_json *n = px_json_new_number(cases[i].v);
        char *out = NULL;
        CHECK_OK(px_json_write(n, &out));
        if (out && strcmp(out, cases[i].py) != 0)
            px_test_fail(__FILE__, __LINE__, "%.17g written as %s, Python writes %s", cases[i].v, out, cases[i].py);
        else px_test_passed++;
        /* and reads back to the same double */
        px_json *back = out ? parse(out) : NULL;
        CHECK(back && (px_json_number(back) == cases[i].v || (isnan(cases[i].v) && isnan(px_json_number(back)))));
        px_json_free(back);
        free(out);
        px_json_free(n);
    }
    /* integers never get ".0"; floats always show they are floats */
    check_round_trip("[128, -7, 0, 1.0, 2.50, 1e2, 9223372036854775807]", "[128, -7, 0, 1.0, 2.5, 100.0, 9223372036854775807]");
}

static void test_strings_and_escapes(void) {
    px_json *j = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", \"caf\xc3\xa9\", "
                       "\"nul\\u0000in\"]");
    CHECK_NOT_NULL(j);
    CHECK(strcmp(px_json_string(px_json_at(j, 0)), "a\"b\\c/d\b\f\n\r\t") == 0);
    CHECK(strcmp(px_json_string(px_json_at(j, 1)), "\xc3\xa9\xe2\x82\xac") == 0);
    CHECK(strcmp(px_json_string(px_json_at(j, 2)), "\xf0\x9f\x98\x80") == 0); /* U+1F600 from a surrogate pair */
    CHECK(strcmp(px_json_string(px_json_at(j, 3)), "caf\xc3\xa9") == 0);
    CHECK(px_json_string_len(px_json_at(j, 4)) == 6 && px_json_string(px_json_at(j, 4))[3] == '\0');
    char *out = NULL;
    CHECK_OK(px_json_write(j, &out));
    /* json.dumps escapes like this (ensure_ascii, lowercase hex, '/' left alone) */
    CHECK(out && strcmp(out, "[\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\", "
                             "\"caf\\u00e9\", \"nul\\u0000in\"]") == 0);
    if (out) printf("escaped: %s\n", out);
    free(out);
    px_json_free(j);
    check_round_trip("{\"k\\u0001\\u007f\": \"\\u001f\"}", NULL);
}

static void test_builders_and_writer(void) {
    px_json *o = px_json_new_object();
    CHECK_OK(px_json_set(o, "class_name", px_json_new_string("Dense")));
    px_json *cfg = px_json_new_object();
    CHECK_OK(px_json_set(cfg, "name", px_json_new_string("dense")));
    CHECK_OK(px_json_set(cfg, "trainable", px_json_new_bool(true)));
    CHECK_OK(px_json_set(cfg, "units", px_json_new_int(10)));
    CHECK_OK(px_json_set(cfg, "rate", px_json_new_number(0.5)));
    CHECK_OK(px_json_set(cfg, "scale", px_json_new_number(1.0)));
    CHECK_OK(px_json_set(cfg, "seed", px_json_new_null()));
    px_json *shape = px_json_new_array();
    CHECK_OK(px_json_push(shape, px_json_new_null()));
    CHECK_OK(px_json_push(shape, px_json_new_int(784)));
    CHECK_OK(px_json_set(cfg, "batch_input_shape", shape));
    CHECK_OK(px_json_set(o, "config", cfg));
    /* replacing keeps the key's position */
    CHECK_OK(px_json_set(cfg, "units", px_json_new_int(12)));
    char *out = NULL;
    CHECK_OK(px_json_write(o, &out));
    CHECK(out && strcmp(out, "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"trainable\": true, "
                             "\"units\": 12, \"rate\": 0.5, \"scale\": 1.0, \"seed\": null, "
                             "\"batch_input_shape\": [null, 784]}}") == 0);
    free(out);
    /* copies are deep and equal; equality ignores key order */
    px_json *c = px_json_copy(o);
    CHECK(px_json_equal(o, c));
    CHECK_OK(px_json_set(px_json_get(c, "config"), "units", px_json_new_int(13)));
    CHECK(!px_json_equal(o, c));
    px_json_free(c);
    px_json *a = parse("{\"x\": 1, \"y\": [true]}"), *b = parse("{\"y\": [true], \"x\": 1.0}");
    CHECK(px_json_equal(a, b));
    px_json_free(a);
    px_json_free(b);
    /* misuse: wrong container, NULL value from a failed builder, invalid UTF-8 */
    CHECK(px_json_push(o, px_json_new_int(1)) == PX_ERR_ARG);
    CHECK(px_json_new_string("bad \xff") == NULL && px_last_status() == PX_ERR_FORMAT);
    CHECK(px_json_set(o, "k", px_json_new_string("bad \xc3")) == PX_ERR_FORMAT);
    CHECK(px_json_set(o, "k\xfe", px_json_new_int(1)) == PX_ERR_FORMAT);
    CHECK(px_json_write(NULL, &out) == PX_ERR_ARG);
    px_json_free(o);
    /* an empty container and top-level scalars */
    check_round_trip("[]", NULL);
    check_round_trip("{}", NULL);
    check_round_trip("\"s\"", NULL);
    check_round_trip("null", NULL);
    check_round_trip(" [ 1 ,{ \"a\" :[ ] } ] ", "[1, {\"a\": []}]");
}

static void test_big_objects_and_duplicates(void) {
    /* enough keys to use the hash index; duplicates keep the first position */
    px_json *o = px_json_new_object();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(px_json_set(o, key, px_json_new_int(i)) == PX_OK);
    }
    CHECK(px_json_len(o) == 1000);
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (px_json_int(px_json_get(o, key)) != i) bad++;
    }
    CHECK(bad == 0);
    char *out = NULL;
    CHECK_OK(px_json_write(o, &out));
    px_json *back = out ? parse(out) : NULL;
    CHECK(px_json_equal(o, back));
    CHECK(strcmp(px_json_key_at(back, 999), "k999") == 0);
    px_json_free(back);
    free(out);
    px_json_free(o);
    px_json *d = parse("{\"a\": 1, \"b\": 2, \"a\": 3}");
    CHECK(px_json_len(d) == 2 && px_json_int(px_json_get(d, "a")) == 3 && strcmp(px_json_key_at(d, 0), "a") == 0);
    px_json_free(d);
}

static void test_errors(void) {
    BAD("", "line 1, column 1: expected a value, found end of input");
    BAD("   \n  ", "line 2, column 3: expected a value");
    BAD("{\"a\": 1,\n \"b\": 2\n \"c\": 3}", "line 3, column 2: expected ',' or '}', found '\"'");
    BAD("[1, 2", "line 1, column 6: expected ',' or ']', found end of input");
    BAD("[1, 2,]", "line 1, column 7: expected a value, found ']'");
    BAD("{\"a\": 1,}", "expected a string key, found '}'");
    BAD("{a: 1}", "expected a string key or '}', found 'a'");
    BAD("{\"a\" 1}", "expected ':' after an object key, found '1'");
    BAD("{\"a\": }", "expected a value, found '}'");
    BAD("[1] x", "line 1, column 5: unexpected 'x' after the JSON value");
    BAD("{} {}", "unexpected '{' after the JSON value");
    BAD("\"abc", "line 1, column 1: unterminated string");
    BAD("\"a\\q\"", "invalid escape '\\q'");
    BAD("\"\\u12\"", "invalid \\u escape");
    BAD("\"\\u12G4\"", "invalid \\u escape");
    BAD("\"\\ud800\"", "unpaired high surrogate \\uD800");
    BAD("\"\\ud800\\u0041\"", "not followed by a low surrogate");
    BAD("\"\\udc00\"", "unpaired low surrogate");
    BAD("\"tab\there\"", "control character (byte 0x09) in string");
    BAD("01", "leading zeros");
    BAD("-", "expected a digit, found end of input");
    BAD("1.", "expected a digit after the decimal point");
    BAD("1e+", "expected a digit in the exponent");
    BAD("+1", "expected a value, found '+'");
    BAD(".5", "expected a value, found '.'");
    BAD("tru", "expected a value, found 't'");
    BAD("nul", "expected a value");
    BAD("'a'", "found '''");
    BAD("[1 // c\n]", "found '/'");
    BAD("nan", "expected a value");
    /* invalid UTF-8 is rejected, in strings and outside them */
    BAD("\"\xff\"", "invalid UTF-8 (byte 0xFF) in string");
    BAD("\"\xc0\xaf\"", "invalid UTF-8 (byte 0xC0)");         /* overlong '/' */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8 (byte 0xED)");     /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8 (byte 0xF4)"); /* above U+10FFFF */
    BAD("\"\xe2\x82\"", "invalid UTF-8");                      /* truncated sequence */
    BAD("\xef\xbb\xbf{}", "expected a value, found byte 0xEF"); /* a BOM is not JSON */
    /* columns count characters: the 'x' is the 5th character on its line */
    BAD("[\"\xc3\xa9\xc3\xa9\"x]", "line 1, column 6: expected ',' or ']', found 'x'");
    /* text is bounded by len: an embedded NUL is just an unexpected byte */
    check_error("[1,\0 2]", 7, "expected a value, found byte 0x00");
    check_error("[1, 2]", 4, "expected a value, found end of input");
    /* argument errors */
    px_json *j;
    CHECK(px_json_parse(NULL, 3, &j) == PX_ERR_ARG);
    CHECK(px_json_parse("1", 1, NULL) == PX_ERR_ARG);
}

static void test_depth_limit(void) {
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) deep[i] = '[';
    for (size_t i = 0; i < n; i++) deep[n + i] = ']';
    px_json *j = NULL;
    CHECK(px_json_parse(deep, 2 * n, &j) == PX_ERR_FORMAT && j == NULL);
    CHECK_ERROR_HAS("nesting deeper than 256");
    /* exactly the limit is fine; one more is not */
    memset(deep, '[', PX_JSON_MAX_DEPTH);
    memset(deep + PX_JSON_MAX_DEPTH, ']', PX_JSON_MAX_DEPTH);
    CHECK_OK(px_json_parse(deep, 2 * PX_JSON_MAX_DEPTH, &j));
    px_json_free(j);
    for (size_t i = 0; i <= PX_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[PX_JSON_MAX_DEPTH + 1 + i] = ']';
    }
    CHECK(px_json_parse(deep, 2 * (PX_JSON_MAX_DEPTH + 1), &j) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("column 257: nesting deeper than 256");
    /* objects count too, and the writer refuses what the parser would refuse */
    px_json *root = px_json_new_array(), *cur = root;
    for (int i = 0; i < PX_JSON_MAX_DEPTH; i++) {
        px_json *o = px_json_new_object();
        px_json_push(cur, o);
        px_json *a = px_json_new_array();
        px_json_set(o, "a", a);
        cur = a;
        if (i == PX_JSON_MAX_DEPTH / 2 - 2) { /* 255 levels: still writable and readable */
            char *out = NULL;
            CHECK_OK(px_json_write(root, &out));
            px_json *back = out ? parse(out) : NULL;
            CHECK(px_json_equal(back, root));
            px_json_free(back);
            free(out);
        }
    }
    char *out = NULL;
    CHECK(px_json_write(root, &out) == PX_ERR_ARG && out == NULL);
    px_json_free(root);
    free(deep);
}

/* model_config / training_config strings as Keras writes them (reference §1.5, §1.6):
 * parsing and writing back must give the identical text. */
static void test_keras_configs(void) {
    static const char *configs[] = {
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 28, 28, 1], \"dtype\": \"float32\", "
        "\"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}}, "
        "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"trainable\": true, \"dtype\": \"float32\", "
        "\"filters\": 32, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"valid\", \"data_format\": "
        "\"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true, "
        "\"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, "
        "\"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, "
        "\"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}}, "
        "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"trainable\": true, \"dtype\": \"float32\", "
        "\"rate\": 0.5, \"noise_shape\": null, \"seed\": null}}]}}",
        "{\"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"], \"weighted_metrics\": null, "
        "\"loss_weights\": null, \"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {\"name\": \"Adam\", "
        "\"learning_rate\": 0.001, \"beta_1\": 0.9, \"beta_2\": 0.999, \"epsilon\": 1e-07, \"amsgrad\": false}}}",
        /* K2.2: a bare layer list and float32-rounded hyperparameters */
        "{\"class_name\": \"Sequential\", \"config\": [{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", "
        "\"trainable\": true, \"batch_input_shape\": [null, 8], \"dtype\": \"float32\", \"units\": 12, "
        "\"kernel_initializer\": {\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 1.0, \"mode\": \"fan_avg\", "
        "\"distribution\": \"uniform\", \"seed\": null}}}}]}",
        "{\"optimizer_config\": {\"class_name\": \"Adam\", \"config\": {\"lr\": 0.0010000000474974513, "
        "\"beta_1\": 0.8999999761581421, \"beta_2\": 0.9990000128746033, \"decay\": 0.0, \"epsilon\": 1e-07}}}",
        /* K2 Functional inbound_nodes and a K3 dtype policy */
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": [{\"class_name\": \"Dense\", "
        "\"config\": {\"name\": \"d\", \"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": "
        "{\"name\": \"float32\"}, \"registered_name\": null}}, \"name\": \"d\", \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}], "
        "\"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}}",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) check_round_trip(configs[i], NULL);
    px_json *j = parse(configs[0]);
    px_json *layers = px_json_get(px_json_get(j, "config"), "layers");
    CHECK(px_json_len(layers) == 3);
    px_json *conv = px_json_get(px_json_at(layers, 1), "config");
    CHECK(px_json_get_int(conv, "filters", 0) == 32);
    CHECK(px_json_int(px_json_at(px_json_get(conv, "kernel_size"), 1)) == 3);
    CHECK(strcmp(px_json_get_string(px_json_at(layers, 1), "class_name", ""), "Conv2D") == 0);
    CHECK(px_json_is_null(px_json_at(px_json_get(px_json_get(px_json_at(layers, 0), "config"), "batch_input_shape"), 0)));
    px_json_free(j);
}

/* The model.json shipped with the shared Keras files, when present. */
static void test_shared_model_json(void) {
    const char *path = px_test_shared("data/keras-models/k3-weights-only-dense.model.json");
    if (!path) {
        px_test_skip("test_shared_model_json: $PX_SHARED_DIR/data/keras-models not found");
        return;
    }
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    if (!fp) return;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    px_json *j = NULL;
    CHECK_OK(px_json_parse(buf, n, &j));
    CHECK(strcmp(px_json_get_string(j, "class_name", ""), "Sequential") == 0);
    printf("model.json: %s with %zu layers\n", px_json_get_string(j, "class_name", "?"),
           px_json_len(px_json_get(px_json_get(j, "config"), "layers")));
    px_json_free(j);
    free(buf);
}

int main(void) {
    RUN_TEST(test_scalars_and_accessors);
    RUN_TEST(test_numbers);
    RUN_TEST(test_float_output_like_python);
    RUN_TEST(test_strings_and_escapes);
    RUN_TEST(test_builders_and_writer);
    RUN_TEST(test_big_objects_and_duplicates);
    RUN_TEST(test_errors);
    RUN_TEST(test_depth_limit);
    RUN_TEST(test_keras_configs);
    RUN_TEST(test_shared_model_json);
    return px_test_finish();
}
