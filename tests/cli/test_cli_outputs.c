/* Output files of the `plexus` command (issue 18 items 1 and 2, issue 14's
 * leftovers): -o, --checkpoint and predict -o write through symbolic links,
 * refuse devices, and fail cleanly on a file-size limit, a full file system and
 * a read-only directory, keeping the previous file and leaving no temporary file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "px_test.h"

static char train_args[4096]; /* a 2-epoch iris run without -o */

/* Entries of cli_tmp/sub (or cli_tmp) whose name holds ".tmp" (leftovers). */
static int temp_entries(const char *sub) {
    DIR *d = opendir(sub ? cli_path(sub) : cli_tmp);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) {
            printf("  leftover: %s\n", e->d_name);
            n++;
        }
    if (d) closedir(d);
    return n;
}

/* Byte-for-byte equal (and both present). */
static bool same_file(const char *a, const char *b) {
    char pa[1024];
    snprintf(pa, sizeof pa, "%s", cli_path(a));
    FILE *fa = fopen(pa, "rb"), *fb = fopen(cli_path(b), "rb");
    int ca = 0, cb = 0;
    while (fa && fb && (ca = fgetc(fa)) == (cb = fgetc(fb)) && ca != EOF) {}
    bool same = fa && fb && ca == cb;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_devices_and_links(void) {
    struct stat st;
    CHECK(cli_runf("%s -o /dev/null", train_args) == 1 && cli_one_line_error("'/dev/null': it is a character device"));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(cli_runf("%s -o /dev/full", train_args) == 1 && cli_one_line_error("not a regular file"));
    CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(cli_runf("%s --checkpoint /dev/null -o ok.h5", train_args) == 1 && cli_one_line_error("character device"));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(cli_runf("%s -o .", train_args) == 1 && cli_one_line_error("a directory"));

    /* a link is written through: the link stays, its target gets the model */
    CHECK(mkdir(cli_path("real"), 0755) == 0);
    CHECK(symlink("real/model.h5", cli_path("link.h5")) == 0);
    CHECK(cli_runf("%s -o link.h5", train_args) == 0);
    CHECK(lstat(cli_path("link.h5"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat(cli_path("real/model.h5"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000);
    CHECK(cli_run("summary link.h5") == 0 && strstr(cli_out, "Total params: 131"));
    CHECK(symlink("real/ckpt.h5", cli_path("ckpt-link.h5")) == 0);
    CHECK(cli_runf("%s --checkpoint ckpt-link.h5 -o m2.h5", train_args) == 0);
    CHECK(lstat(cli_path("ckpt-link.h5"), &st) == 0 && S_ISLNK(st.st_mode) && cli_exists("real/ckpt.h5"));

    /* predict -o: through a link, never onto a device */
    CHECK(symlink("real/classes.csv", cli_path("classes-link.csv")) == 0);
    CHECK(cli_runf("predict link.h5 --csv '%s' --header --label-column -1 --classes -o classes-link.csv", cli_iris) == 0);
    char *csv = cli_slurp(cli_path("real/classes.csv"));
    CHECK(strncmp(csv, "class\n", 6) == 0);
    free(csv);
    CHECK(lstat(cli_path("classes-link.csv"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(cli_runf("predict link.h5 --csv '%s' --header --label-column -1 -o /dev/null", cli_iris) == 1 &&
          cli_one_line_error("character device"));
    CHECK(temp_entries(NULL) == 0 && temp_entries("real") == 0);
}

/* Item 2: a save past `ulimit -f` fails with one line and exit code 1 (no crash
 * in libhdf5's exit-time cleanup), the previous file stays, no temporary file. */
static void test_file_size_limit(void) {
    CHECK(cli_runf("%s -o prev.h5", train_args) == 0);
    CHECK(cli_sh("cp prev.h5 keep.h5 && ulimit -f 4 && \"$PLEXUS\" %s -o prev.h5", train_args) == 1);
    CHECK(cli_one_line_error("File too large") && strstr(cli_err, "previous file is unchanged"));
    CHECK(same_file("prev.h5", "keep.h5"));
    CHECK(cli_sh("ulimit -f 4 && \"$PLEXUS\" %s --checkpoint ck.h5 -o other.h5", train_args) == 1);
    CHECK(cli_one_line_error("File too large") && !cli_exists("ck.h5") && !cli_exists("other.h5"));
    CHECK(cli_sh("ulimit -f 1 && \"$PLEXUS\" predict prev.h5 --csv '%s' --header --label-column -1 -o pred.csv",
                 cli_iris) == 1);
    CHECK(cli_one_line_error("File too large") && !cli_exists("pred.csv"));
    CHECK(temp_entries(NULL) == 0);
}

/* A full file system and a read-only one: a small tmpfs mounted in a private
 * mount namespace (unshare), where the machine allows it. */
static void test_full_and_read_only(void) {
    if (system("command -v unshare >/dev/null 2>&1") != 0) {
        px_test_skip("test_full_and_read_only: no unshare program");
        return;
    }
    if (!cli_exists("prev.h5")) CHECK(cli_runf("%s -o prev.h5", train_args) == 0);
    CHECK(mkdir(cli_path("fs"), 0755) == 0);
    /* 32 KiB: the 10 KiB model and 12 KiB of filler leave less than a model's room */
    int rc = cli_sh("unshare -rm sh -c '"
                    "mount -t tmpfs -o size=32k tmpfs fs 2>/dev/null || exit 77; "
                    "cp prev.h5 fs/m.h5 && head -c 12288 /dev/zero > fs/filler || exit 78; "
                    "\"$PLEXUS\" %s --epochs 3 -o fs/m.h5; echo \"full: $?\"; "
                    "cmp -s prev.h5 fs/m.h5 && echo \"full: kept\"; ls -a fs | grep -c tmp | sed \"s/^/full temps: /\"; "
                    "rm fs/filler; mount -o remount,ro fs || exit 79; "
                    "\"$PLEXUS\" %s --epochs 3 -o fs/m.h5; echo \"ro: $?\"; "
                    "cmp -s prev.h5 fs/m.h5 && echo \"ro: kept\"; ls -a fs | grep -c tmp | sed \"s/^/ro temps: /\"; exit 0'",
                    train_args, train_args);
    if (rc == 77) {
        px_test_skip("test_full_and_read_only: cannot mount a tmpfs here (%s)", cli_err);
        return;
    }
    CHECK(rc == 0);
    printf("%s%s", cli_out, cli_err);
    CHECK(strstr(cli_out, "full: 1\n") && strstr(cli_out, "full: kept") && strstr(cli_out, "full temps: 0"));
    CHECK(strstr(cli_err, "No space left on device"));
    CHECK(strstr(cli_out, "ro: 1\n") && strstr(cli_out, "ro: kept") && strstr(cli_out, "ro temps: 0"));
    CHECK(strstr(cli_err, "Read-only file system"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    snprintf(train_args, sizeof train_args,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 2 -v 0", cli_models, cli_iris);
    RUN_TEST(test_devices_and_links);
    RUN_TEST(test_file_size_limit);
    RUN_TEST(test_full_and_read_only);
    cli_teardown();
    return px_test_finish();
}
