/* Lesson: fine-tuning hyperparameters -- randomized search with cross-validation
 * over an MLP for Fashion-MNIST: lesson_tune [data-dir] [training-images]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : NULL;
    long n_images = argc > 2 ? atol(argv[2]) : 3000;
    if (n_images < 100 || n_images > 55000) n_images = 3000;

    /* A subset keeps the lesson to about a minute: the search fits every trial
     * once per fold, so its cost is trials x folds x epochs. */
    px_dataset *all = NULL, *test = NULL;
    if (px_fashion_mnist_load(dir, 55000, &all, NULL, &test) != PX_OK)
        return fprintf(stderr, "lesson_tune: %s\n", px_last_error()), 1;
    px_dataset *train = px_dataset_slice(all, 0, n_images);
    px_dataset_free(all);
    if (!train) return fprintf(stderr, "lesson_tune: %s\n", px_last_error()), 1;

    /* The space. Lists are tried value by value; a range is drawn from, and the
     * learning rate is drawn log-uniformly because its useful values span
     * decades (1e-3 is as far from 1e-2 as 1e-2 is from 1e-1). The same space as
     * SPACE.json for `plexus tune`:
     *   {"layers": [1, 2, 3], "units": [32, 64, 128], "activation": ["relu", "selu"],
     *    "learning_rate": {"log_uniform": [3e-4, 3e-2]}, "optimizer": "sgd"}  */
    const char *space_json =
        "{\"layers\": [1, 2, 3], \"units\": [32, 64, 128], \"activation\": [\"relu\", \"selu\"],"
        " \"learning_rate\": {\"log_uniform\": [3e-4, 3e-2]}, \"batch_size\": 32, \"optimizer\": \"sgd\"}";
    px_tune_space space;
    if (px_tune_space_from_json(space_json, strlen(space_json), &space) != PX_OK)
        return fprintf(stderr, "lesson_tune: %s\n", px_last_error()), 1;

    /* Random search rather than a grid: with a few important hyperparameters
     * among many, a grid spends most trials repeating the same values of the
     * important ones, while random draws try a new value of each every time
     * (Bergstra & Bengio, 2012). The seed makes the draws, folds and weights
     * repeatable. Each trial is scored by 3-fold cross-validation: the mean
     * validation accuracy over three fits, each holding out a different third. */
    px_tune_result result;
    printf("Randomized search: 8 trials, 3-fold cross-validation, %ld images, 5 epochs per fit\n", n_images);
    if (px_tune(train, &space,
                &(px_tune_options){.search = PX_SEARCH_RANDOM, .trials = 8, .folds = 3, .epochs = 5, .seed = 42,
                                   .retrain = true, .verbose = PX_VERBOSE_EPOCH},
                &result) != PX_OK)
        return fprintf(stderr, "lesson_tune: %s\n", px_last_error()), 1;
    printf("\n");
    px_tune_print(&result, stdout);

    /* The spread (+/-) across folds says how far apart two scores must be to
     * mean anything: trials within one spread of each other are a tie. */
    const px_tune_trial *best = &result.trials[0];
    printf("\nbest: %d x Dense(%d, %s), learning rate %.4g: val_accuracy %.4f +/- %.4f\n", best->params.layers,
           best->params.units, px_activation_name(best->params.activation), best->params.learning_rate, best->score,
           best->score_std);

    /* The best point was retrained on all the training images; only now, once,
     * does the test set speak -- choosing by test accuracy would tune to it. */
    px_logs logs = {0};
    if (px_model_evaluate(result.best_model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK)
        return fprintf(stderr, "lesson_tune: %s\n", px_last_error()), 1;
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("test accuracy of the retrained best model: %.4f\n", acc);

    px_tune_result_clear(&result);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
