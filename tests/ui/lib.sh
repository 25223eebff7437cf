# lib.sh: a small tmux harness for the editor's end-to-end tests (POSIX sh;
# source it). Each test runs the real binary in a detached tmux session of
# a fixed size on a private server (-L tui-test-PID, no user config),
# sends keys, and reads the screen with capture-pane. Every wait is
# bounded; the server is killed at exit.
#
#   ui_start COLS ROWS 'shell command'   start a session running it (under
#                                        TERM=xterm-256color LANG=C.UTF-8)
#   ui_keys KEY...                       tmux send-keys (names: Enter, Up...)
#   ui_type TEXT                         send literal text
#   ui_mouse BUTTON COL ROW              a mouse press and its release at
#                                        COL, ROW (1-based, as on screen) in
#                                        the form kmous of xterm-256color
#                                        names: SGR (ESC [ < b;x;y M, m on
#                                        release) or X10 (ESC [ M b+32 x+32
#                                        y+32, release b=3); BUTTON 0 is the
#                                        left one, 64/65 the wheel up/down
#                                        (a wheel sends no release)
#   ui_screen                            the screen as text
#   ui_wait TEXT [SECONDS]               until the screen shows TEXT (0/1)
#   ui_wait_gone TEXT [SECONDS]          until it no longer does
#   ui_wait_file PATH [SECONDS]          until PATH exists and is not empty
#   ui_resize COLS ROWS                  resize the window
#   ui_alive                             0 while the session exists
#   ui_stop                              end the session
UI_SOCK=tui-test-$$
UI_SESSION=t
UI_TIMEOUT=${UI_TIMEOUT:-10}

ui_tmux() {
    tmux -L "$UI_SOCK" -f /dev/null "$@"
}

ui_cleanup() {
    ui_tmux kill-server >/dev/null 2>&1
}

ui_start() {
    ui_stop
    ui_tmux new-session -d -s "$UI_SESSION" -x "$1" -y "$2" \
        "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL= sh -c '$3'" \
        >/dev/null 2>&1
    ui_tmux set-option -t "$UI_SESSION" status off >/dev/null 2>&1
}

ui_keys() {
    ui_tmux send-keys -t "$UI_SESSION" "$@"
}

ui_type() {
    ui_tmux send-keys -t "$UI_SESSION" -l -- "$1"
}

# _ui_x10 N: the byte N+32 (N below 95), as X10 mouse reports carry it.
_ui_x10() { printf "\\$(printf %o $(($1 + 32)))"; }

ui_mouse() {
    if [ -z "$UI_KMOUS" ]; then
        UI_KMOUS=$(infocmp -1 xterm-256color 2>/dev/null |
            sed -n 's/^[[:space:]]*kmous=\(.*\),$/\1/p')
    fi
    if [ "$UI_KMOUS" = '\E[M' ]; then
        _m=$(printf '\033[M'; _ui_x10 "$1"; _ui_x10 "$2"; _ui_x10 "$3")
        [ "$1" -lt 64 ] && _m=$_m$(printf '\033[M'; _ui_x10 3; _ui_x10 "$2"
            _ui_x10 "$3")
    elif [ "$1" -ge 64 ]; then
        _m=$(printf '\033[<%d;%d;%dM' "$1" "$2" "$3")
    else
        _m=$(printf '\033[<%d;%d;%dM\033[<%d;%d;%dm' "$1" "$2" "$3" \
            "$1" "$2" "$3")
    fi
    ui_tmux send-keys -t "$UI_SESSION" -l -- "$_m"
}

ui_screen() {
    ui_tmux capture-pane -p -t "$UI_SESSION" 2>/dev/null
}

# _ui_poll SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
_ui_poll() {
    _n=$(( ${1:-$UI_TIMEOUT} * 10 ))
    shift
    while [ "$_n" -gt 0 ]; do
        if "$@"; then return 0; fi
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

_ui_has() { ui_screen | grep -qF -- "$1"; }
_ui_hasnt() { ! ui_screen | grep -qF -- "$1"; }
_ui_file() { [ -s "$1" ]; }

ui_wait() { _ui_poll "${2:-$UI_TIMEOUT}" _ui_has "$1"; }
ui_wait_gone() { _ui_poll "${2:-$UI_TIMEOUT}" _ui_hasnt "$1"; }
ui_wait_file() { _ui_poll "${2:-$UI_TIMEOUT}" _ui_file "$1"; }

ui_resize() {
    ui_tmux resize-window -t "$UI_SESSION" -x "$1" -y "$2" >/dev/null 2>&1
}

ui_alive() {
    ui_tmux has-session -t "$UI_SESSION" >/dev/null 2>&1
}

ui_stop() {
    ui_tmux kill-session -t "$UI_SESSION" >/dev/null 2>&1
    return 0
}
