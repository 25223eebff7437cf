/* ui_screen.c: the terminal's lifecycle (htop's CRT.c, ncdu's ui setup).
 *
 * Curses starts only here, on the tty (newterm on stdout/stdin), after
 * setlocale(LC_CTYPE, "") so that a UTF-8 locale gets UTF-8 drawing
 * (only LC_CTYPE: numbers in plans must not follow the locale). While it
 * runs, stderr points at a memory file; ui_done() restores the terminal
 * and replays it. ui_done() is idempotent and runs at exit, on SIGTERM
 * and SIGHUP (then the signal is re-raised with its default action), and
 * on crash signals (SA_RESETHAND: the terminal is restored, then the
 * signal goes to the previous handler, so ASan still reports). SIGINT
 * only sets a flag: the main loop treats it as "quit, asking if unsaved".
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../core/err.h"
#include "ui_impl.h"

static volatile sig_atomic_t ui_active;   /* curses is up */
static volatile sig_atomic_t ui_sigint;   /* Ctrl-C / SIGINT seen */
static SCREEN *ui_scr;
static int ui_saved_stderr = -1;          /* the real stderr */
static int ui_err_fd = -1;                /* the memory file */
static int ui_use_color;

static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NCRASH (sizeof crash_sigs / sizeof *crash_sigs)
static struct sigaction old_crash[NCRASH];
static struct sigaction old_term, old_hup, old_int;

double ui_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int ui_check_terminal(void)
{
    const char *hint = "use --list, --summary or --tree to print the model";
    const char *term = getenv("TERM");
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return err_set("the editor needs a terminal (stdin and stdout are "
                       "not both a tty); %s", hint);
    if (!term || !*term)
        return err_set("TERM is not set, so the editor cannot draw; %s",
                       hint);
    if (strcmp(term, "dumb") == 0)
        return err_set("TERM=dumb cannot show the editor; %s", hint);
    return 0;
}

/* Copies the memory file to the real stderr; async-signal-safe. */
static void replay_stderr(void)
{
    char buf[4096];
    if (ui_err_fd < 0)
        return;
    if (lseek(ui_err_fd, 0, SEEK_SET) == 0) {
        ssize_t n;
        while ((n = read(ui_err_fd, buf, sizeof buf)) > 0) {
            ssize_t off = 0;
            while (off < n) {
                ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
                if (w <= 0)
                    break;
                off += w;
            }
            if (off < n)
                break;
        }
    }
    close(ui_err_fd);
    ui_err_fd = -1;
}

void ui_done(void)
{
    if (!ui_active)
        return;
    ui_active = 0;
    curs_set(1);
    endwin();
    fflush(stdout);
    if (ui_saved_stderr >= 0) {
        fflush(stderr);
        dup2(ui_saved_stderr, STDERR_FILENO);
        close(ui_saved_stderr);
        ui_saved_stderr = -1;
        replay_stderr();
    }
}

static void on_term(int sig)
{
    ui_done();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_int(int sig)
{
    (void)sig;
    ui_sigint = 1;
}

static void on_crash(int sig, siginfo_t *info, void *ctx)
{
    ui_done();
    for (size_t i = 0; i < NCRASH; i++) {
        if (crash_sigs[i] != sig)
            continue;
        struct sigaction *o = &old_crash[i];
        if ((o->sa_flags & SA_SIGINFO) && o->sa_sigaction) {
            o->sa_sigaction(sig, info, ctx);
            return;
        }
        if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN &&
            o->sa_handler) {
            o->sa_handler(sig);
            return;
        }
    }
    /* SA_RESETHAND made the action the default again */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    sa.sa_handler = on_int; /* no SA_RESTART: the read is interrupted */
    sigaction(SIGINT, &sa, &old_int);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    for (size_t i = 0; i < NCRASH; i++)
        sigaction(crash_sigs[i], &sa, &old_crash[i]);
}

static void restore_signals(void)
{
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGINT, &old_int, NULL);
    for (size_t i = 0; i < NCRASH; i++)
        sigaction(crash_sigs[i], &old_crash[i], NULL);
}

/* Points fd 2 at a memory file (or a temp file); keeps the real one. */
static void capture_stderr(void)
{
    int fd = -1;
#ifdef MFD_CLOEXEC
    fd = memfd_create("tui-stderr", MFD_CLOEXEC);
#endif
    if (fd < 0) {
        FILE *f = tmpfile();
        if (f) {
            fd = dup(fileno(f));
            fclose(f);
        }
    }
    if (fd < 0)
        return;
    fflush(stderr);
    ui_saved_stderr = dup(STDERR_FILENO);
    if (ui_saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
        if (ui_saved_stderr >= 0)
            close(ui_saved_stderr);
        ui_saved_stderr = -1;
        close(fd);
        return;
    }
    ui_err_fd = fd;
}

#define UI_COLOR_PAIR(name, fg, bg, attr) {fg, bg, attr},
static const struct {
    short fg, bg;
    attr_t attr;
} ui_colors[] = {UI_COLORS(UI_COLOR_PAIR)};
#undef UI_COLOR_PAIR

attr_t ui_color_attr(const ui *u, enum ui_color c)
{
    (void)u;
    if ((unsigned)c >= UIC_COUNT)
        return A_NORMAL;
    if (!ui_use_color) {
        /* no colour: keep the meaning with attributes alone */
        switch (c) {
        case UIC_HEADER: case UIC_BOX: case UIC_MATCH: return A_REVERSE;
        case UIC_WARN: return A_REVERSE | A_BOLD;
        case UIC_FROZEN: case UIC_ERROR: return A_BOLD;
        case UIC_BUFFER: case UIC_DIM: return A_DIM;
        default: return A_NORMAL;
        }
    }
    return COLOR_PAIR((short)c + 1) | ui_colors[c].attr;
}

void ui_color_set(const ui *u, enum ui_color c)
{
    attrset(ui_color_attr(u, c));
}

static void init_colors(ui *u)
{
    const char *nc = getenv("NO_COLOR");
    ui_use_color = 0;
    if ((nc && *nc) || !has_colors() || start_color() == ERR)
        return;
    use_default_colors();
    for (int i = 0; i < UIC_COUNT; i++)
        init_pair((short)(i + 1), ui_colors[i].fg, ui_colors[i].bg);
    ui_use_color = 1;
    u->color = 1;
}

static void at_exit_done(void)
{
    ui_done();
}

int ui_screen_start(ui *u)
{
    static int registered;
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    u->utf8 = cs && strcmp(cs, "UTF-8") == 0;
    if (!getenv("ESCDELAY"))
        set_escdelay(50);
    ui_scr = newterm(NULL, stdout, stdin);
    if (!ui_scr)
        return err_set("cannot start the terminal '%s'; use --list, "
                       "--summary or --tree", getenv("TERM") ? getenv("TERM")
                                                             : "");
    set_term(ui_scr);
    ui_active = 1;
    if (!registered) {
        atexit(at_exit_done);
        registered = 1;
    }
    install_signals();
    capture_stderr();
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    /* Home and End arrive in several spellings (terminfo, tmux, screen,
     * rxvt); teach ncurses the common ones, as htop does. */
    static const char *const home[] = {"\033[1~", "\033[7~", "\033[H",
                                       "\033OH"};
    static const char *const end[] = {"\033[4~", "\033[8~", "\033[F",
                                      "\033OF"};
    for (size_t k = 0; k < sizeof home / sizeof *home; k++) {
        define_key(home[k], KEY_HOME);
        define_key(end[k], KEY_END);
    }
    curs_set(0);
    timeout(500); /* wake up now and then to see a SIGINT */
    mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    init_colors(u);
    getmaxyx(stdscr, u->rows, u->cols);
    return 0;
}

void ui_screen_end(void)
{
    ui_done();
    restore_signals();
    if (ui_scr) {
        delscreen(ui_scr);
        ui_scr = NULL;
    }
}

int ui_input(ui *u)
{
    for (;;) {
        if (ui_sigint) {
            ui_sigint = 0;
            u->key_ms = ui_now_ms();
            u->last_key = UI_KEY_INTERRUPT;
            return UI_KEY_INTERRUPT;
        }
        timeout(ui_measure_running(u) || ui_stats_running(u) ? 100 : 500);
        int c = getch();
        if (c == ERR) {
            if (ui_sigint)
                continue;
            /* timeout: the background jobs, then the flags again */
            int moved = ui_measure_poll(u);
            moved |= u->ticks && ui_stats_poll(u);
            if (moved && u->ticks) {
                u->last_key = UI_KEY_TICK;
                return UI_KEY_TICK;
            }
            continue;
        }
        u->key_ms = ui_now_ms();
        u->last_key = c;
        if (c == KEY_RESIZE) {
            getmaxyx(stdscr, u->rows, u->cols);
            return KEY_RESIZE;
        }
        return c;
    }
}
