/* train_measure_report.c: the --measure-memory table and its --json
 * object (docs/cli.md, docs/memory.md). */
#include <stdio.h>
#include <string.h>

#include "../core/err.h"
#include "../core/human.h"
#include "../core/jsonw.h"
#include "train_measure.h"

/* The model file's last path component, for the heading. */
static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void row(FILE *out, const char *label, uint64_t v, const char *note)
{
    char c[32], h[32];
    fprintf(out, "  %-22s %17s B  %10s%s%s\n", label,
            human_count(v, c, sizeof c), human_bytes(v, h, sizeof h),
            note ? "  " : "", note ? note : "");
}

static void write_table(FILE *out, const trainer *t, const measure_point *p,
                        const measure_fit *f)
{
    const mem_parts *a = &t->est.after;
    char c[32], h[32], pc[32];
    fprintf(out, "measured at batch %llu on %s (libtorch %s), %s:\n",
            (unsigned long long)p->batch, t->device, ts_version(),
            base_name(t->model_file));
    row(out, "activations", p->r.activation_bytes, "saved for backward");
    row(out, "peak", p->r.peak_bytes, "high-water of the step");
    size_t n = ts_measure_module_count(p->m);
    if (n) {
        fprintf(out, "per module (saved while its forward ran):\n");
        for (size_t i = 0; i < n; i++) {
            const char *name;
            uint64_t b;
            if (ts_measure_module(p->m, i, &name, &b) < 0)
                continue;
            fprintf(out, "  %-30s %14s  %7s\n", name,
                    human_bytes(b, h, sizeof h),
                    human_percent(b, p->r.activation_bytes, pc, sizeof pc));
        }
    }
    fprintf(out, "static (the plan's estimate, %s, %s):\n",
            memory_optimizer_name(t->est.optimizer),
            memory_precision_name(t->est.precision));
    row(out, "weights", a->weights, NULL);
    row(out, "master", a->master, NULL);
    row(out, "gradients", a->gradients, NULL);
    row(out, "optimizer", a->optimizer, NULL);
    row(out, "buffers", a->buffers, NULL);
    row(out, "peak margin", measure_margin(t, &p->r),
        "peak beyond activations and gradients");
    row(out, "total", p->total, NULL);
    if (!f)
        return;
    fprintf(out, "fit: total = %s B + %s B x batch (batches %llu and %llu)\n",
            human_count((unsigned long long)(f->a > 0 ? f->a : 0), c,
                        sizeof c),
            human_count((unsigned long long)f->k, h, sizeof h),
            (unsigned long long)f->b1, (unsigned long long)f->b2);
    if (f->largest)
        fprintf(out, "largest batch in %s: %llu\n", f->limit_text,
                (unsigned long long)f->largest);
    else
        fprintf(out, "largest batch in %s: none (batch 1 needs %s)\n",
                f->limit_text,
                human_bytes((unsigned long long)(f->a + f->k), h, sizeof h));
}

static void write_json(FILE *out, const trainer *t, const measure_point *p,
                       const measure_fit *f)
{
    const mem_parts *a = &t->est.after;
    fprintf(out, "{\"batch_size\":%llu,\"device\":",
            (unsigned long long)p->batch);
    jsonw_string(out, t->device, strlen(t->device));
    fputs(",\"libtorch\":", out);
    jsonw_string(out, ts_version(), strlen(ts_version()));
    fprintf(out, ",\"activation_bytes\":%llu,\"peak_bytes\":%llu,"
            "\"saved_tensors\":%llu,\"storages\":%llu,\"per_module\":[",
            (unsigned long long)p->r.activation_bytes,
            (unsigned long long)p->r.peak_bytes,
            (unsigned long long)p->r.saved_tensors,
            (unsigned long long)p->r.storages);
    size_t n = ts_measure_module_count(p->m);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        uint64_t b;
        if (ts_measure_module(p->m, i, &name, &b) < 0)
            continue;
        fputs(i ? ",{\"module\":" : "{\"module\":", out);
        jsonw_string(out, name, strlen(name));
        fprintf(out, ",\"activation_bytes\":%llu}", (unsigned long long)b);
    }
    fprintf(out, "],\"static\":{\"weights\":%llu,\"master\":%llu,"
            "\"gradients\":%llu,\"optimizer\":%llu,\"buffers\":%llu},"
            "\"peak_margin\":%llu,\"total\":%llu,\"step_seconds\":%.6f",
            (unsigned long long)a->weights, (unsigned long long)a->master,
            (unsigned long long)a->gradients, (unsigned long long)a->optimizer,
            (unsigned long long)a->buffers,
            (unsigned long long)measure_margin(t, &p->r),
            (unsigned long long)p->total, p->seconds);
    if (f)
        fprintf(out, ",\"fit\":{\"limit\":%llu,\"batches\":[%llu,%llu],"
                "\"totals\":[%llu,%llu],\"a\":%.17g,\"b\":%.17g,"
                "\"largest_batch\":%llu}",
                (unsigned long long)f->limit, (unsigned long long)f->b1,
                (unsigned long long)f->b2, (unsigned long long)f->t1,
                (unsigned long long)f->t2, f->a, f->k,
                (unsigned long long)f->largest);
    fputs("}\n", out);
}

int measure_report(const trainer *t, const measure_point *p,
                   const measure_fit *f, int json)
{
    if (json)
        write_json(stdout, t, p, f);
    else
        write_table(stdout, t, p, f);
    if (fflush(stdout) != 0 || ferror(stdout))
        return err_set("cannot write the report on stdout");
    return 0;
}
