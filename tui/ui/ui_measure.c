/* ui_measure.c: `a`, the activation memory of the current frozen set,
 * measured in the background (docs/memory.md).
 *
 * The editor never loads libtorch for this: it writes the current state
 * as a temporary plan (session_write_measure_plan) and runs this same
 * binary on it, `tui --headless --plan TMP --measure-memory --json`, as a
 * child in its own process group (no terminal signals reach it; it dies
 * with the editor), reading its stdout and stderr through non-blocking
 * pipes from ui_input's idle ticks, so every key is answered while it
 * runs. The first measurement of a session that has frozen parameters is
 * preceded by one with everything trainable, the panel's "all trainable"
 * column. The result goes to the session (session_set_measurement), so
 * `w` stores it in the plan's estimate.activations while the frozen set
 * is still the one measured; after an edit the figure is marked stale.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/activation_json.h"
#include "../core/err.h"
#include "../core/human.h"
#include "ui_impl.h"

#define OUT_MAX (4u << 20) /* the --json line of a very deep model fits */

/* The temporary plan: mkstemps in $TMPDIR (else /tmp). Returns 0, or -1
 * with err set. */
static int make_plan_path(ui_measure *m)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int n = snprintf(m->plan, sizeof m->plan, "%s/tui-measure-XXXXXX.yaml",
                     dir);
    if (n < 0 || (size_t)n >= sizeof m->plan) {
        m->plan[0] = '\0';
        return err_set("TMPDIR is too long for a temporary plan");
    }
    int fd = mkstemps(m->plan, 5);
    if (fd < 0) {
        int e = errno;
        m->plan[0] = '\0';
        return err_set("cannot make a temporary plan in %s: %s", dir,
                       strerror(e));
    }
    close(fd);
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Ends the running job, if any: kills and reaps the child, closes the
 * pipes, removes the temporary plan. Cannot fail. */
static void job_end(ui_measure *m)
{
    if (m->pid > 0) {
        kill(-m->pid, SIGKILL);
        kill(m->pid, SIGKILL);
        while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    m->pid = 0;
    close_fd(&m->out_fd);
    close_fd(&m->err_fd);
    if (m->plan[0])
        unlink(m->plan);
    m->plan[0] = '\0';
    free(m->out);
    m->out = NULL;
    m->nout = m->out_cap = 0;
    m->nerr = 0;
    m->err[0] = '\0';
}

/* Starts one job: the temporary plan for the current state (or for
 * everything trainable), then the child. Returns 0, or -1 with err set
 * (nothing left running). */
static int job_start(ui *u, int all_trainable)
{
    ui_measure *m = &u->meas;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return err_set("cannot find this program (/proc/self/exe): %s",
                       strerror(errno));
    exe[n] = '\0';
    if (make_plan_path(m))
        return -1;
    if (session_write_measure_plan(u->s, m->plan, all_trainable))
        goto fail;
    if (all_trainable)
        bitset_zero(&m->job_frozen);
    else
        bitset_copy(&m->job_frozen, &u->s->fs.frozen);
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        err_set("cannot make a pipe: %s", strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        err_set("cannot start the measurement: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || null < 0 || dup2(null, 0) < 0 ||
            dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(127);
        char *argv[] = {exe, "--headless", "--plan", m->plan,
                        "--measure-memory", "--json", NULL};
        execv(exe, argv);
        static const char no[] = "cannot run this program again\n";
        if (write(2, no, sizeof no - 1) < 0)
            _exit(127);
        _exit(127);
    }
    setpgid(pid, pid); /* either side may win the race; both set it */
    close(po[1]);
    close(pe[1]);
    m->pid = pid;
    m->out_fd = po[0];
    m->err_fd = pe[0];
    fcntl(m->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(m->err_fd, F_SETFL, O_NONBLOCK);
    m->all_job = all_trainable;
    m->started_ms = ui_now_ms();
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&po[i]);
        close_fd(&pe[i]);
    }
    if (m->plan[0])
        unlink(m->plan);
    m->plan[0] = '\0';
    return -1;
}

/* Reads what is there on fd into the job's buffers; returns 1 at end of
 * file (or an error), 0 while more may come. */
static int drain(ui_measure *m, int fd, int is_out)
{
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return 1;
        if (!is_out) {
            size_t k = (size_t)n;
            if (k > sizeof m->err - 1 - m->nerr)
                k = sizeof m->err - 1 - m->nerr;
            memcpy(m->err + m->nerr, buf, k);
            m->nerr += k;
            m->err[m->nerr] = '\0';
            continue;
        }
        if (m->nout + (size_t)n > OUT_MAX)
            continue; /* too long: refused when parsed */
        if (m->nout + (size_t)n + 1 > m->out_cap) {
            size_t cap = m->out_cap ? m->out_cap * 2 : 16384;
            while (cap < m->nout + (size_t)n + 1)
                cap *= 2;
            char *p = realloc(m->out, cap);
            if (!p)
                continue;
            m->out = p;
            m->out_cap = cap;
        }
        memcpy(m->out + m->nout, buf, (size_t)n);
        m->nout += (size_t)n;
    }
}

/* The child's one-line error, cut at its first newline, without the
 * "tui: " prefix and the temporary plan's name. */
static const char *child_error(ui_measure *m, int status)
{
    char *nl = strchr(m->err, '\n');
    if (nl)
        *nl = '\0';
    const char *e = m->err;
    if (strncmp(e, "tui: ", 5) == 0)
        e += 5;
    size_t pl = strlen(m->plan);
    if (pl && strncmp(e, m->plan, pl) == 0 && e[pl] == ':')
        e += pl + 1 + (e[pl + 1] == ' ');
    if (*e)
        return e;
    static char why[64];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "the measuring process died of signal %d",
                 WTERMSIG(status));
    else
        snprintf(why, sizeof why, "the measuring process exited with %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return why;
}

/* What the editor knows of a module path, for the warning. */
static void warn_text(ui *u, const activation *a, char *buf, size_t cap)
{
    activation_table_ctx ctx = {&u->s->t, &u->s->fs.frozen};
    size_t count = 0;
    uint64_t bytes = 0;
    char b[32];
    buf[0] = '\0';
    if (activation_frozen_after_trainable(a, activation_table_state, &ctx,
                                          &count, &bytes) == 0 &&
        count)
        snprintf(buf, cap, "! %zu frozen module%s after a trainable one "
                 "keep%s %s: freezing %s saved no activations", count,
                 count == 1 ? "" : "s", count == 1 ? "s" : "",
                 human_bytes(bytes, b, sizeof b),
                 count == 1 ? "it" : "them");
}

/* The job ended with `status`: takes its result. */
static void job_done(ui *u, int status)
{
    ui_measure *m = &u->meas;
    activation a;
    char x[32], y[32], warn[200];
    int all = m->all_job;
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    activation_init(&a);
    if (ok && activation_parse_json(&a, m->out ? m->out : "", m->nout)) {
        ui_message(u, 1, "activations: %s", err_msg());
        goto out;
    }
    if (!ok) {
        ui_message(u, 1, "activations not measured: %s",
                   child_error(m, status));
        m->then_current = 0;
        goto out;
    }
    if (all || bitset_count(&m->job_frozen) == 0) {
        activation_free(&m->all);
        if (activation_copy(&m->all, &a) == 0)
            m->has_all = 1;
    }
    if (all) {
        ui_message(u, 0, "activations with everything trainable: %s at "
                   "batch %llu; now this plan's",
                   human_bytes(a.activation_bytes, x, sizeof x),
                   (unsigned long long)a.batch);
        goto out;
    }
    if (session_set_measurement(u->s, &a, &m->job_frozen)) {
        ui_message(u, 1, "activations: %s", err_msg());
        goto out;
    }
    warn_text(u, &a, warn, sizeof warn);
    if (warn[0])
        ui_message(u, 1, "activations %s at batch %llu; %s",
                   human_bytes(a.activation_bytes, x, sizeof x),
                   (unsigned long long)a.batch, warn);
    else
        ui_message(u, 0, "activations %s at batch %llu on %s, peak %s "
                   "(w keeps them in the plan)",
                   human_bytes(a.activation_bytes, x, sizeof x),
                   (unsigned long long)a.batch, a.device ? a.device : "?",
                   human_bytes(a.peak_bytes, y, sizeof y));
out:
    activation_free(&a);
    job_end(m);
    if (all && m->then_current) {
        m->then_current = 0;
        if (job_start(u, 0))
            ui_message(u, 1, "activations: %s", err_msg());
    }
}

int ui_measure_poll(ui *u)
{
    ui_measure *m = &u->meas;
    if (m->pid <= 0)
        return 0;
    int eof = 1;
    if (m->out_fd >= 0 && drain(m, m->out_fd, 1))
        close_fd(&m->out_fd);
    if (m->err_fd >= 0 && drain(m, m->err_fd, 0))
        close_fd(&m->err_fd);
    eof = m->out_fd < 0 && m->err_fd < 0;
    int status = 0;
    pid_t r = eof ? waitpid(m->pid, &status, WNOHANG) : 0;
    if (r == m->pid) {
        m->pid = 0; /* reaped */
        job_done(u, status);
    }
    return 1; /* the progress hint moves on */
}

int ui_measure_running(const ui *u)
{
    return u->meas.pid > 0;
}

/* Makes the job's set on first use. Returns 0 or -1 (out of memory). */
static int ensure_set(ui *u)
{
    if (u->meas.job_frozen.w)
        return 0;
    if (bitset_init(&u->meas.job_frozen, u->s->t.count))
        return err_set("out of memory");
    return 0;
}

int ui_measure_key(ui *u)
{
    ui_measure *m = &u->meas;
    char why[700];
    if (m->pid > 0) {
        m->then_current = 0;
        job_end(m);
        ui_message(u, 0, "measurement cancelled");
        return R_REDRAW;
    }
    if (!session_can_measure(u->s, why, sizeof why)) {
        ui_show_text(u, "activations: nothing to measure", why);
        return R_REDRAW;
    }
    if (ensure_set(u)) {
        ui_message(u, 1, "%s", err_msg());
        return R_REDRAW;
    }
    int first_all = !m->has_all && bitset_count(&u->s->fs.frozen) > 0;
    m->then_current = first_all;
    if (job_start(u, first_all))
        ui_message(u, 1, "activations: %s", err_msg());
    return R_REDRAW;
}

void ui_measure_end(ui *u)
{
    u->meas.then_current = 0;
    job_end(&u->meas);
    activation_free(&u->meas.all);
    u->meas.has_all = 0;
    bitset_free(&u->meas.job_frozen);
}

void ui_measure_init(ui *u)
{
    memset(&u->meas, 0, sizeof u->meas);
    u->meas.out_fd = u->meas.err_fd = -1;
    activation_init(&u->meas.all);
    int fresh;
    const activation *a = session_measurement(u->s, &fresh);
    if (a && fresh && bitset_count(&u->s->fs.frozen) == 0 &&
        activation_copy(&u->meas.all, a) == 0)
        u->meas.has_all = 1;
}

enum ui_color ui_measure_row(ui *u, char *buf, size_t cap)
{
    ui_measure *m = &u->meas;
    const session *s = u->s;
    char a[32], b[32], c[32], d[32], warn[200];
    int fresh;
    const activation *cur = session_measurement(s, &fresh);
    /* the trainer's default when the plan gives none (train_config.c) */
    uint64_t batch = s->has_base && s->base.train.batch_size != PLAN_UNSET
                         ? s->base.train.batch_size
                         : 32;
    if (m->pid > 0) {
        snprintf(buf, cap, " activations  measuring %s at batch %llu... "
                 "%.1f s (a cancels)",
                 m->all_job ? "everything trainable" : "this plan",
                 (unsigned long long)batch,
                 (ui_now_ms() - m->started_ms) / 1000.0);
        return UIC_DIM;
    }
    if (!cur) {
        if (!session_can_measure(s, warn, sizeof warn))
            snprintf(buf, cap, " activations  not measured: needs a plan "
                     "with train.model and its input (a tells more)");
        else
            snprintf(buf, cap, " activations  not measured: a runs one "
                     "step at batch %llu", (unsigned long long)batch);
        return UIC_DIM;
    }
    if (!fresh) {
        snprintf(buf, cap, " activations  %s at batch %llu is stale: the "
                 "frozen set changed (a re-measures)",
                 human_bytes(cur->activation_bytes, a, sizeof a),
                 (unsigned long long)cur->batch);
        return UIC_DIM;
    }
    warn_text(u, cur, warn, sizeof warn);
    uint64_t at = u->est_ok ? u->est.after.total : 0;
    uint64_t with = at + cur->activation_bytes < at ? UINT64_MAX
                                                    : at + cur->activation_bytes;
    char saved[48] = "";
    if (m->has_all && m->all.batch == cur->batch) {
        char e[32];
        uint64_t before = m->all.activation_bytes;
        if (before > cur->activation_bytes)
            snprintf(saved, sizeof saved, " (-%s)",
                     human_bytes(before - cur->activation_bytes, e,
                                 sizeof e));
        snprintf(a + 0, sizeof a, "%s -> ",
                 human_bytes(before, c, sizeof c));
    } else {
        a[0] = '\0';
    }
    snprintf(buf, cap, " activations  %s%s%s, measured at batch %llu on "
             "%s; total %s with them%s%s", a,
             human_bytes(cur->activation_bytes, b, sizeof b), saved,
             (unsigned long long)cur->batch, cur->device ? cur->device : "?",
             human_bytes(with, d, sizeof d), warn[0] ? "  " : "", warn);
    return warn[0] ? UIC_PARTIAL : UIC_NORMAL;
}
