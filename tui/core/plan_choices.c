/* plan_choices.c: the allowed values of a plan's keyword fields
 * (plan_choices, plan_choice_ok in plan.h; docs/plan-format.md). */
#include "plan.h"

#include <string.h>

static const char *const bn_choices[] = {"freeze-stats", "train", NULL};
static const char *const loss_choices[] = {"cross_entropy", "mse",
                                           "bce_with_logits", "model", NULL};
static const char *const opt_choices[] = {"sgd", "momentum", "adam", "adamw",
                                          NULL};
static const char *const sched_choices[] = {"constant", "linear_warmup",
                                            "cosine", NULL};
static const char *const device_choices[] = {"cuda", "cpu", NULL};
static const char *const prec_choices[] = {"fp32", "bf16", NULL};
static const char *const idt_choices[] = {"float32", "int64", NULL};

const char *const *plan_choices(const char *field)
{
    static const struct {
        const char *field;
        const char *const *list;
    } map[] = {
        {"batchnorm", bn_choices},
        {"train.loss", loss_choices},
        {"train.optimizer.name", opt_choices},
        {"train.schedule.name", sched_choices},
        {"train.device", device_choices},
        {"train.precision", prec_choices},
        {"train.input_dtype", idt_choices},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].field, field) == 0)
            return map[i].list;
    return NULL;
}

int plan_choice_ok(const char *field, const char *value)
{
    const char *const *c = plan_choices(field);
    if (!c)
        return 1;
    for (; *c; c++)
        if (strcmp(*c, value) == 0)
            return 1;
    return 0;
}
