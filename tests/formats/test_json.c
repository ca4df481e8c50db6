/* The JSON DOM (on jansson): parsing Keras configs, exact json.dumps output,
 * every reading rule of formats/json.h, and every way malformed text must fail
 * with a line/column message. */
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
    /* members come in document order */
    const char *keys = "abcdefg";
    size_t n = 0;
    for (px_json_member m = px_json_first(j); m.key; m = px_json_next(j, m), n++)
        CHECK(n < 7 && m.key[0] == keys[n] && m.key[1] == '\0' && m.value == px_json_get(j, m.key));
    CHECK(n == 7);
    /* iterating anything but an object ends at once */
    CHECK(px_json_first(f).key == NULL && px_json_first(NULL).key == NULL && px_json_first(px_json_get(j, "g")).key == NULL);
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
                       "1e-999, 0.1, 1.7976931348623157e308, 2.5e1]");
    CHECK_NOT_NULL(j);
    CHECK(px_json_is_integer(px_json_at(j, 0)) && px_json_int(px_json_at(j, 1)) == 0);
    CHECK(!px_json_is_integer(px_json_at(j, 2)) && px_json_number(px_json_at(j, 2)) == 100.0);
    CHECK(px_json_number(px_json_at(j, 3)) == 0.01);
    CHECK(px_json_number(px_json_at(j, 5)) == -127.5);
    CHECK(px_json_int(px_json_at(j, 6)) == INT64_MAX);
    CHECK(px_json_int(px_json_at(j, 7)) == INT64_MIN);
    CHECK(px_json_number(px_json_at(j, 8)) == 0.0); /* underflow is zero, as in Python */
    CHECK(px_json_number(px_json_at(j, 9)) == 0.1);
    CHECK(px_json_number(px_json_at(j, 10)) == 1.7976931348623157e308);
    /* px_json_int truncates floats toward zero and saturates */
    CHECK(px_json_int(px_json_at(j, 5)) == -127 && px_json_int(px_json_at(j, 10)) == INT64_MAX);
    CHECK(px_json_get_int(NULL, "x", 7) == 7 && px_json_int(px_json_at(j, 11)) == 25);
    px_json_free(j);
    /* beyond int64 and beyond double: rejected, not rounded (json.h) */
    BAD("[1, 92233720368547758070]", "line 1, column 24: too big integer near '92233720368547758070'");
    BAD("9223372036854775808", "too big integer");
    BAD("-9223372036854775809", "too big negative integer");
    BAD("[1e999]", "line 1, column 6: real number overflow near '1e999'");
    BAD("-1e400", "real number overflow");
    /* Python's NaN/Infinity extension: rejected with a message that says why */
    BAD("[NaN]", "line 1, column 4: NaN and Infinity are not JSON (Python's json.dumps writes them");
    BAD("{\"a\": Infinity}", "line 1, column 14: NaN and Infinity are not JSON");
    BAD("[1,\n -Infinity]", "line 2, column 2: NaN and Infinity are not JSON");
    BAD("[NaNa]", "invalid token near 'NaNa'"); /* not the word itself: jansson's message */
    BAD("[-Inf]", "invalid token near '-'");
    BAD("nan", "invalid token near 'nan'");
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
        {2.0 / 3.0, "0.6666666666666666"}, {1e-300, "1e-300"}, {-1.5e300, "-1.5e+300"}, {2e-4, "0.0002"},
        {0.1 + 0.2, "0.30000000000000004"}, {123e-20, "1.23e-18"}, {5e-5, "5e-05"}, {1e22, "1e+22"},
        {9007199254740993.0, "9007199254740992.0"},
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
        CHECK(back && px_json_number(back) == cases[i].v && !px_json_is_integer(back));
        px_json_free(back);
        free(out);
        px_json_free(n);
    }
    /* JSON has no NaN or infinity, so they cannot be built (and a key names the culprit) */
    CHECK(px_json_new_number(NAN) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("NaN has no JSON form");
    CHECK(px_json_new_number(-INFINITY) == NULL);
    CHECK_ERROR_HAS("an infinity has no JSON form");
    px_json *o = px_json_new_object();
    CHECK(px_json_set(o, "rate", px_json_new_number(INFINITY)) == PX_ERR_ARG && px_json_len(o) == 0);
    CHECK_ERROR_HAS("an infinity has no JSON form (JSON key 'rate')");
    px_json_free(o);
    /* integers never get ".0"; floats always show they are floats */
    check_round_trip("[128, -7, 0, 1.0, 2.50, 1e2, 9223372036854775807]", "[128, -7, 0, 1.0, 2.5, 100.0, 9223372036854775807]");
}

static void test_strings_and_escapes(void) {
    px_json *j = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", \"caf\xc3\xa9\", "
                       "\"nul\\u0000in\", \"del\x7f \xf0\x9f\x98\x80\"]");
    CHECK_NOT_NULL(j);
    CHECK(strcmp(px_json_string(px_json_at(j, 0)), "a\"b\\c/d\b\f\n\r\t") == 0);
    CHECK(strcmp(px_json_string(px_json_at(j, 1)), "\xc3\xa9\xe2\x82\xac") == 0);
    CHECK(strcmp(px_json_string(px_json_at(j, 2)), "\xf0\x9f\x98\x80") == 0); /* U+1F600 from a surrogate pair */
    CHECK(strcmp(px_json_string(px_json_at(j, 3)), "caf\xc3\xa9") == 0);
    CHECK(px_json_string_len(px_json_at(j, 4)) == 6 && px_json_string(px_json_at(j, 4))[3] == '\0');
    CHECK(px_json_string_len(px_json_at(j, 5)) == 9); /* DEL is a legal raw character */
    char *out = NULL;
    CHECK_OK(px_json_write(j, &out));
    /* json.dumps escapes like this (ensure_ascii, lowercase hex, '/' left alone) */
    CHECK(out && strcmp(out, "[\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\", "
                             "\"caf\\u00e9\", \"nul\\u0000in\", \"del\\u007f \\ud83d\\ude00\"]") == 0);
    if (out) printf("escaped: %s\n", out);
    free(out);
    px_json_free(j);
    check_round_trip("{\"k\\u0001\\u007f\": \"\\u001f\"}", NULL);
    /* built strings may hold NUL bytes too, and are written escaped */
    px_json *s = px_json_new_string_len("a\0b", 3);
    CHECK(px_json_string_len(s) == 3);
    CHECK_OK(px_json_write(s, &out));
    CHECK(out && strcmp(out, "\"a\\u0000b\"") == 0);
    free(out);
    px_json_free(s);
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
    CHECK_ERROR_HAS("key is not valid UTF-8");
    CHECK(px_json_set(o, NULL, px_json_new_int(1)) == PX_ERR_ARG);
    CHECK(px_json_set(o, "self", o) == PX_ERR_ARG && px_json_is_object(o)); /* refused, o intact */
    px_json *arr = px_json_new_array();
    CHECK(px_json_push(arr, arr) == PX_ERR_ARG && px_json_len(arr) == 0);
    px_json_free(arr);
    CHECK(px_json_new_string(NULL) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK(px_json_new_string_len(NULL, 1) == NULL && px_last_status() == PX_ERR_ARG);
    px_json *empty = px_json_new_string_len(NULL, 0);
    CHECK(empty && px_json_string_len(empty) == 0 && strcmp(px_json_string(empty), "") == 0);
    px_json_free(empty);
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
    /* many keys: lookups find each, and the written order is the insertion order */
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
    size_t n = 0;
    for (px_json_member m = px_json_first(back); m.key; m = px_json_next(back, m), n++) {
        snprintf(key, sizeof key, "k%zu", n);
        if (strcmp(m.key, key) != 0 || px_json_int(m.value) != (int64_t)n) bad++;
    }
    CHECK(bad == 0 && n == 1000);
    px_json_free(back);
    free(out);
    px_json_free(o);
    /* duplicate keys are rejected (json.h), at any depth */
    BAD("{\"a\": 1, \"b\": 2, \"a\": 3}", "line 1, column 20: duplicate object key near '\"a\"'");
    BAD("[{\"x\": {\"k\": 1,\n \"k\": 1}}]", "line 2, column 4: duplicate object key");
    BAD("{\"\\u00e9\": 1, \"\xc3\xa9\": 2}", "duplicate object key"); /* the same key, escaped or not */
    px_json *d = parse("{\"a\": 1, \"A\": 2, \"a \": 3}");
    CHECK(px_json_len(d) == 3);
    px_json_free(d);
}

static void test_errors(void) {
    /* grammar: the position is the last character read, i.e. the end of the token after "near" */
    BAD("", "line 1, column 1: unexpected token near end of file");
    BAD("   \n  ", "line 2, column 2: unexpected token near end of file");
    BAD("{\"a\": 1,\n \"b\": 2\n \"c\": 3}", "line 3, column 4: '}' expected near '\"c\"'");
    BAD("[1, 2", "line 1, column 5: ']' expected near end of file");
    BAD("[1, 2,]", "line 1, column 7: unexpected token near ']'");
    BAD("{\"a\": 1,}", "line 1, column 9: string or '}' expected near '}'");
    BAD("{a: 1}", "string or '}' expected near 'a'");
    BAD("{\"a\" 1}", "line 1, column 6: ':' expected near '1'");
    BAD("{\"a\": }", "unexpected token near '}'");
    BAD("[1] x", "line 1, column 5: end of file expected near 'x'");
    BAD("{} {}", "end of file expected near '{'");
    BAD("{\"a\":1}\n\n   ]", "line 3, column 4: end of file expected near ']'");
    BAD("[1true]", "']' expected near 'true'");
    /* strings */
    BAD("\"abc", "line 1, column 4: premature end of input near '\"abc'");
    BAD("\"a\\q\"", "invalid escape near '\"a\\q'");
    BAD("\"\\u12\"", "invalid escape");
    BAD("\"\\u12G4\"", "invalid escape near '\"\\u12G'");
    BAD("\"\\ud800\"", "invalid Unicode '\\uD800'");
    BAD("\"\\ud800\\u0041\"", "invalid Unicode '\\uD800\\u0041'");
    BAD("\"\\udc00\"", "invalid Unicode '\\uDC00'");
    BAD("\"tab\there\"", "line 1, column 4: control character 0x9 near '\"tab'");
    BAD("\"a\nb\"", "unexpected newline near '\"a'");
    BAD("{\"\\u0000\": 1}", "NUL byte in object key not supported");
    /* numbers and words */
    BAD("01", "invalid token near '0'");
    BAD("-", "invalid token near '-'");
    BAD("1.", "invalid token near '1.'");
    BAD("1e+", "invalid token near '1e+'");
    BAD("+1", "invalid token near '+'");
    BAD(".5", "invalid token near '.'");
    BAD("tru", "line 1, column 3: invalid token near 'tru'");
    BAD("nul", "invalid token near 'nul'");
    BAD("[truefalse]", "invalid token near 'truefalse'");
    BAD("'a'", "invalid token near '''");
    BAD("[1 // c\n]", "']' expected near '/'");
    /* invalid UTF-8 is rejected, in strings and outside them */
    BAD("\"\xff\"", "line 1, column 1: unable to decode byte 0xff");
    BAD("\"\xc0\xaf\"", "unable to decode byte 0xc0");         /* overlong '/' */
    BAD("\"\xed\xa0\x80\"", "unable to decode byte 0xed");     /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "unable to decode byte 0xf4"); /* above U+10FFFF */
    BAD("\"\xe2\x82\"", "unable to decode byte 0xe2");         /* truncated sequence */
    BAD("[\xff]", "unable to decode byte 0xff");
    BAD("\xef\xbb\xbf{}", "line 1, column 1: the text starts with a UTF-8 byte-order mark");
    /* columns count characters: the 'x' is the 6th character on its line */
    BAD("[\"\xc3\xa9\xc3\xa9\"x]", "line 1, column 6: ']' expected near 'x'");
    /* text is bounded by len; a NUL byte is named, and control bytes in the
     * message are escaped so it stays one printable line */
    check_error("[1,\0 2]", 7, "line 1, column 4: NUL byte in the text");
    check_error("\"a\0b\"", 5, "control character 0x0");
    check_error("[1, 2]", 4, "']' expected near end of file");
    BAD("[\x01]", "invalid token near '\\x01'");
    BAD("[\x7f]", "invalid token near '\\x7F'");
    /* argument errors */
    px_json *j;
    CHECK(px_json_parse(NULL, 3, &j) == PX_ERR_ARG);
    CHECK(px_json_parse("1", 1, NULL) == PX_ERR_ARG);
    CHECK(px_json_parse(NULL, 0, &j) == PX_ERR_FORMAT && j == NULL);
}

/* Text of n nested arrays around `inner` ("" or a scalar). */
static char *nested(size_t n, const char *inner, size_t *len) {
    size_t k = strlen(inner);
    char *s = malloc(2 * n + k + 1);
    memset(s, '[', n);
    memcpy(s + n, inner, k);
    memset(s + n + k, ']', n);
    *len = 2 * n + k;
    s[*len] = '\0';
    return s;
}

static void test_depth_limit(void) {
    /* far too deep fails cleanly (no stack overflow) */
    size_t len;
    char *deep = nested(100000, "", &len);
    px_json *j = NULL;
    CHECK(px_json_parse(deep, len, &j) == PX_ERR_FORMAT && j == NULL);
    CHECK_ERROR_HAS("line 1, column 2049: maximum parsing depth reached");
    free(deep);
    /* every value counts, the top-level one at depth 1: PX_JSON_MAX_DEPTH arrays
     * are fine, and so is a scalar inside one array fewer; one more is not */
    static const struct { size_t arrays; const char *inner; bool ok; } cases[] = {
        {PX_JSON_MAX_DEPTH, "", true}, {PX_JSON_MAX_DEPTH + 1, "", false},
        {PX_JSON_MAX_DEPTH - 1, "1", true}, {PX_JSON_MAX_DEPTH, "1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        deep = nested(cases[i].arrays, cases[i].inner, &len);
        px_status st = px_json_parse(deep, len, &j);
        CHECK(cases[i].ok ? st == PX_OK : st == PX_ERR_FORMAT);
        if (!cases[i].ok) CHECK_ERROR_HAS("maximum parsing depth reached");
        /* the writer agrees: what it writes, the parser reads */
        if (j) {
            char *out = NULL;
            CHECK_OK(px_json_write(j, &out));
            CHECK(out && strcmp(out, deep) == 0);
            free(out);
        }
        px_json_free(j);
        j = NULL;
        free(deep);
    }
    /* objects count too, and the writer refuses what the parser would refuse */
    px_json *root = px_json_new_array(), *cur = root;
    for (int depth = 1; depth < PX_JSON_MAX_DEPTH - 1; depth += 2) { /* root is depth 1 */
        px_json *o = px_json_new_object();
        CHECK_OK(px_json_push(cur, o));
        px_json *a = px_json_new_array();
        CHECK_OK(px_json_set(o, "a", a));
        cur = a;
    }
    /* the innermost array is at depth PX_JSON_MAX_DEPTH - 1: a scalar in it is the limit */
    CHECK_OK(px_json_push(cur, px_json_new_int(1)));
    char *out = NULL;
    CHECK_OK(px_json_write(root, &out));
    px_json *back = NULL;
    CHECK(out && px_json_parse(out, strlen(out), &back) == PX_OK && px_json_equal(back, root));
    px_json_free(back);
    free(out);
    out = NULL;
    CHECK_OK(px_json_push(cur, px_json_new_array()));
    CHECK_OK(px_json_push(px_json_at(cur, 1), px_json_new_null())); /* one deeper */
    CHECK(px_json_write(root, &out) == PX_ERR_ARG && out == NULL);
    CHECK_ERROR_HAS("nesting deeper than 2048");
    px_json_free(root);
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
    /* Keras 3 wrote it with json.dumps: the writer gives back the same bytes */
    char *out = NULL;
    CHECK(j && px_json_write(j, &out) == PX_OK && strlen(out) == n && memcmp(out, buf, n) == 0);
    free(out);
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
