/* Learning-rate schedules: PolynomialDecay, CosineDecay (with warmup) and
 * CosineDecayRestarts against a float32 transcription of Keras's formulas (cross-checked
 * with torch's schedulers where they coincide), their checks, their configs both ways,
 * and their journey through a saved model file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/schedule_fixtures.h"
#include "formats/json.h"
#include "plexus/model_io.h"
#include "px_test.h"
#include "train/schedule_config.h"

#define N_FIX (int)(sizeof px_sched_fixtures / sizeof px_sched_fixtures[0])

static void test_against_keras(void) {
    for (int f = 0; f < N_FIX; f++) {
        const px_sched_fixture *fx = &px_sched_fixtures[f];
        CHECK_OK(px_lr_schedule_validate(&fx->schedule));
        for (int i = 0; i < PX_SCHED_FIX_STEPS; i++) {
            double got = px_lr_schedule_at(&fx->schedule, px_sched_fix_steps[i]), want = fx->lr[i];
            /* Keras computes in float32, Plexus in double: a few float32 ulps apart */
            if (fabs(got - want) > 1e-6 * fabs(want) + 1e-8) {
                px_test_fail(__FILE__, __LINE__, "%s at step %lld: %.9g, Keras %.9g", fx->name,
                             (long long)px_sched_fix_steps[i], got, want);
            } else {
                px_test_passed++;
            }
        }
    }
}

/* An optimizer steps along the schedule: the rate of step t is the schedule at t. */
static void test_optimizer_follows(void) {
    const px_lr_schedule *s = &px_sched_fixtures[6].schedule; /* restarts, t_mul 2 */
    px_optimizer *opt = px_sgd(&(px_optimizer_options){.schedule = s});
    CHECK_NOT_NULL(opt);
    if (!opt) return;
    float w = 0;
    double expect = 0;
    for (int t = 0; t < 150; t++) {
        expect -= px_lr_schedule_at(s, t);
        CHECK_OK(px_optimizer_step(opt, &w, (float[]){1.0f}, 1));
    }
    CHECK_NEAR(w, expect, 1e-4);
    CHECK_NEAR(px_optimizer_learning_rate(opt), px_lr_schedule_at(s, 150), 0);
    px_optimizer_free(opt);
}

static void test_validation(void) {
    px_lr_schedule p = {.kind = PX_SCHEDULE_POLYNOMIAL, .initial_learning_rate = 0.1f, .decay_steps = 0};
    CHECK(px_lr_schedule_validate(&p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("decay_steps must be > 0");
    p.decay_steps = 10;
    p.end_learning_rate = -1;
    CHECK(px_lr_schedule_validate(&p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("end_learning_rate");
    p.end_learning_rate = 0;
    p.power = NAN;
    CHECK(px_lr_schedule_validate(&p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("power");

    px_lr_schedule c = {.kind = PX_SCHEDULE_COSINE, .initial_learning_rate = 0.1f, .decay_steps = 10,
                        .warmup_steps = 5};
    CHECK(px_lr_schedule_validate(&c) == PX_ERR_ARG);
    CHECK_ERROR_HAS("warmup_target");
    c.warmup_target = 0.5f;
    CHECK_OK(px_lr_schedule_validate(&c));
    c.warmup_steps = -1;
    CHECK(px_lr_schedule_validate(&c) == PX_ERR_ARG);

    px_lr_schedule r = {.kind = PX_SCHEDULE_COSINE_RESTARTS, .initial_learning_rate = 0.1f, .decay_steps = 10,
                        .t_mul = -2};
    CHECK(px_lr_schedule_validate(&r) == PX_ERR_ARG);
    CHECK_ERROR_HAS("t_mul");
    r.t_mul = 0;
    r.m_mul = INFINITY;
    CHECK(px_lr_schedule_validate(&r) == PX_ERR_ARG);
    CHECK_ERROR_HAS("m_mul");
    r.m_mul = 0;
    r.decay_steps = 0;
    CHECK(px_lr_schedule_validate(&r) == PX_ERR_ARG);
    CHECK_ERROR_HAS("first_decay_steps");
    CHECK(px_adam(&(px_optimizer_options){.schedule = &r}) == NULL);
    CHECK_ERROR_HAS("adam: learning-rate schedule");
    px_lr_schedule unknown = {.kind = (px_schedule_kind)99, .decay_steps = 1};
    CHECK(px_lr_schedule_validate(&unknown) == PX_ERR_ARG);
    CHECK(isnan(px_lr_schedule_at(&unknown, 3)));
}

static px_json *parse(const char *text) {
    px_json *j = NULL;
    if (px_json_parse(text, strlen(text), &j) != PX_OK) return NULL;
    return j;
}

/* Keras's own configs read, and every kind written and read back unchanged. */
static void test_configs(void) {
    px_json *j = parse("{\"module\": \"keras.optimizers.schedules\", \"class_name\": \"PolynomialDecay\", \"config\": "
                       "{\"initial_learning_rate\": 0.1, \"decay_steps\": 100, \"power\": 1.0, \"cycle\": false, "
                       "\"name\": \"PolynomialDecay\"}, \"registered_name\": null}");
    px_lr_schedule s;
    CHECK_OK(px_lr_schedule_from_json(j, &s));
    CHECK(s.kind == PX_SCHEDULE_POLYNOMIAL && s.decay_steps == 100);
    CHECK(s.end_learning_rate == 0.0001f); /* Keras's default when the key is absent */
    px_json_free(j);
    j = parse("{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0, \"decay_steps\": 200, "
              "\"alpha\": 0.0, \"name\": \"CosineDecay\", \"warmup_target\": 0.1, \"warmup_steps\": 100}}");
    CHECK_OK(px_lr_schedule_from_json(j, &s));
    CHECK_NEAR(px_lr_schedule_at(&s, 50), px_sched_fixtures[4].lr[4], 1e-8);
    px_json_free(j);
    j = parse("{\"class_name\": \"CosineDecayRestarts\", \"config\": {\"initial_learning_rate\": 0.1, "
              "\"first_decay_steps\": 100, \"t_mul\": 2.0, \"m_mul\": 1.0, \"alpha\": 0.0, \"name\": null}}");
    CHECK_OK(px_lr_schedule_from_json(j, &s));
    CHECK(s.kind == PX_SCHEDULE_COSINE_RESTARTS && s.decay_steps == 100 && s.t_mul == 2.0f);
    px_json_free(j);
    j = parse("{\"class_name\": \"CosineDecayRestarts\", \"config\": {\"initial_learning_rate\": 0.1, "
              "\"first_decay_steps\": \"ten\"}}");
    CHECK(px_lr_schedule_from_json(j, &s) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("first_decay_steps");
    px_json_free(j);
    j = parse("{\"class_name\": \"WarmupThing\", \"config\": {}}");
    CHECK(px_lr_schedule_from_json(j, &s) == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("WarmupThing");
    px_json_free(j);

    for (int f = 0; f < N_FIX; f++) {
        px_json *w = px_lr_schedule_to_json(&px_sched_fixtures[f].schedule);
        CHECK_NOT_NULL(w);
        px_lr_schedule back;
        CHECK_OK(px_lr_schedule_from_json(w, &back));
        for (int i = 0; i < PX_SCHED_FIX_STEPS; i++)
            CHECK(px_lr_schedule_at(&back, px_sched_fix_steps[i]) ==
                  px_lr_schedule_at(&px_sched_fixtures[f].schedule, px_sched_fix_steps[i]));
        const px_json *cfg = px_json_get(w, "config");
        if (px_sched_fixtures[f].schedule.kind == PX_SCHEDULE_COSINE_RESTARTS)
            CHECK(px_json_get(cfg, "first_decay_steps") && px_json_get(cfg, "t_mul") && px_json_get(cfg, "m_mul"));
        if (px_sched_fixtures[f].schedule.kind == PX_SCHEDULE_COSINE)
            /* Keras before 2.13 refuses warmup keys: written only when there is a warmup */
            CHECK((px_json_get(cfg, "warmup_target") != NULL) == (px_sched_fixtures[f].schedule.warmup_target != 0));
        px_json_free(w);
    }
}

/* A model compiled with a schedule saves it and resumes on it. */
static void test_model_file(void) {
    const px_lr_schedule *s = &px_sched_fixtures[5].schedule; /* cosine with warmup and alpha */
    px_set_random_seed(5);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3), NULL), px_dense(2, PX_SOFTMAX), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.schedule = s})}));
    px_tensor *x = px_tensor_fill(PX_SHAPE(8, 3), 0.5f), *y = px_tensor_new(PX_I32, PX_SHAPE(8));
    for (int i = 0; i < 8; i++) px_tensor_i32(y)[i] = i % 2;
    px_dataset *d = px_dataset_new(x, y);
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 3, .batch_size = 2, .verbose = PX_VERBOSE_SILENT}));
    char path[512];
    snprintf(path, sizeof path, "%s/px_schedules_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    CHECK_OK(px_model_save(m, path));
    px_model *b = px_model_load(path);
    CHECK_NOT_NULL(b);
    if (b) {
        const px_optimizer_options *o = px_optimizer_get_options(px_model_optimizer(b));
        CHECK(o->schedule && o->schedule->kind == PX_SCHEDULE_COSINE && o->schedule->warmup_steps == 50 &&
              o->schedule->warmup_target == 0.3f && o->schedule->alpha == 0.05f);
        CHECK(px_optimizer_iterations(px_model_optimizer(b)) == 12);
        CHECK(px_optimizer_learning_rate(px_model_optimizer(b)) == px_lr_schedule_at(s, 12));
    }
    px_model_free(b);
    px_model_free(m);
    px_dataset_free(d);
    remove(path);
}

int main(void) {
    RUN_TEST(test_against_keras);
    RUN_TEST(test_optimizer_follows);
    RUN_TEST(test_validation);
    RUN_TEST(test_configs);
    RUN_TEST(test_model_file);
    return px_test_finish();
}
