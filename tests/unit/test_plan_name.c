/* test_plan_name.c: the default plan name, one rule for a checkpoint
 * file, a folder of shards and a shard index (plan_checkpoint_stem,
 * plan_default_path; docs/plan-format.md, "The plan's default name"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/plan.h"

/* want_path NAME CKPT WANT: plan_default_path(CKPT) is WANT. */
static void want_path(const char *ckpt, const char *want)
{
    char buf[4096];
    int rc = plan_default_path(ckpt, buf, sizeof buf);
    CHECK(rc == 0);
    if (rc == 0 && strcmp(buf, want) != 0)
        fprintf(stderr, "  %s: got '%s', want '%s'\n", ckpt, buf, want);
    CHECK(rc == 0 && strcmp(buf, want) == 0);
}

int main(void)
{
    char dir[] = "/tmp/test_plan_name.XXXXXX", path[4096], buf[4096];
    CHECK(mkdtemp(dir) != NULL);
    /* folders: their whole name (a dot in a folder's name is no
     * extension), beside the folder, with or without a trailing slash */
    snprintf(path, sizeof path, "%s/bert.v2", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/shards", dir);
    CHECK(mkdir(path, 0700) == 0);
    char want[4096];
    snprintf(path, sizeof path, "%s/shards", dir);
    snprintf(want, sizeof want, "%s/shards.plan.yaml", dir);
    want_path(path, want);
    snprintf(path, sizeof path, "%s/shards//", dir);
    want_path(path, want);
    snprintf(path, sizeof path, "%s/bert.v2/", dir);
    snprintf(want, sizeof want, "%s/bert.v2.plan.yaml", dir);
    want_path(path, want);
    /* files: the base name without its extension, beside the file */
    want_path("resnet18.safetensors", "resnet18.plan.yaml");
    want_path("models/resnet18_sd.pt", "models/resnet18_sd.plan.yaml");
    want_path("/m/vit.tiny.pt", "/m/vit.tiny.plan.yaml");
    want_path("model", "model.plan.yaml");
    want_path("./.hidden", "./.hidden.plan.yaml");
    /* shard indexes: the stem without the whole index suffix */
    want_path("bert/model.safetensors.index.json", "bert/model.plan.yaml");
    want_path("gpt/pytorch_model.bin.index.json",
              "gpt/pytorch_model.plan.yaml");
    want_path("x/weights.index.json", "x/weights.plan.yaml");
    /* nothing left: "plan" */
    want_path("/", "/plan.plan.yaml");
    /* the stem alone, as the foreign-plan proposal uses it */
    CHECK(plan_checkpoint_stem("a/b/model.safetensors.index.json", buf,
                               sizeof buf) == 0 &&
          strcmp(buf, "model") == 0);
    /* too long for the buffer: -1, named */
    err_clear();
    CHECK(plan_default_path("resnet18.safetensors", buf, 10) == -1);
    CHECK(strstr(err_msg(), "resnet18.safetensors: the plan's name is too "
                            "long") != NULL);
    CHECK(plan_checkpoint_stem("resnet18.safetensors", buf, 8) == -1);
    snprintf(path, sizeof path, "%s/bert.v2", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/shards", dir);
    rmdir(path);
    rmdir(dir);
    return check_report();
}
