"""tui_plan.pattern: the pattern language of docs/patterns.md, compiled
as the C core compiles it (tui/core/pattern_compile.c, pattern_match.c,
pattern_regex.c)."""

import re

from .ere import _compile_regex
from .errors import PatternError, _Fail
from .lex import (_BS, _COMMA, _DOT, _LBRACE, _LBRACK, _RBRACE, _RBRACK,
                  _byte_class, _is_digit)

__all__ = ["Pattern", "compile_pattern"]

# ---------------------------------------------------------------------------
# The glob language (tui/core/pattern_compile.c, pattern_match.c)
#
# Compiled the way the C core compiles it, in three passes over the bytes
# (validate the syntax, expand {a,b} groups, split each expansion into
# segments), so the same patterns fail with the same message and column.
# Each expanded glob becomes a Python regex over "name." (every segment
# followed by a dot): a segment matcher is `...\.`, `**` is `(?:[^.]*\.)*`,
# and every glob ends in `**` (the subtree rule).

MAX_PATTERN = 4096            # bytes of source
MAX_BRANCHES = 1024           # globs after expanding {a,b}
_MAX_EXPANDED = 262144        # bytes of all expanded globs
_EXPAND_WORK_MAX = 16 << 20   # bytes copied while expanding
_MAX_NAME = 4096              # longer names never match a glob

_DSTAR = object()             # the segment matcher for "**"


def _class_char(s, cols, j):
    """One class member at s[j] (maybe escaped): (byte, next index)."""
    if s[j] == _BS:
        if j + 1 >= len(s):
            raise _Fail(cols[j], "trailing '\\'")
        return s[j + 1], j + 2
    return s[j], j + 1


def _class_parse(s, cols, i):
    """The class at s[i] == '[': ((negated, [(lo, hi)...]), index after
    its ']')."""
    n, j, neg, first, ranges = len(s), i + 1, False, True, []
    if j < n and s[j] in b"!^":
        neg, j = True, j + 1
    while True:
        at = j
        if j >= n:
            raise _Fail(cols[i], "unclosed '['")
        if s[j] == _RBRACK and not first:
            break
        first = False
        lo, j = _class_char(s, cols, j)
        hi = lo
        if j + 1 < n and s[j] == 0x2D and s[j + 1] != _RBRACK:
            hi, j = _class_char(s, cols, j + 1)
            if hi < lo:
                raise _Fail(cols[at], "empty class range '%s-%s'"
                            % (chr(lo), chr(hi)))
        ranges.append((lo, hi))
    return (neg, ranges), j + 1


def _range_parse(s, cols, i):
    """s[i] == '{'. (lo, hi or None when open, index after '}') when
    s[i:] is a range {A..B}; None when it is no range."""
    n = len(s)
    j = a0 = i + 1
    while j < n and _is_digit(s[j]):
        j += 1
    alen = j - a0
    if j + 1 >= n or s[j] != _DOT or s[j + 1] != _DOT:
        return None
    j = b0 = j + 2
    while j < n and _is_digit(s[j]):
        j += 1
    blen = j - b0
    if j >= n or s[j] != _RBRACE:
        return None
    if not alen and not blen:
        raise _Fail(cols[i], "range {..} needs a bound")
    if alen > 19:
        raise _Fail(cols[a0], "range bound over 19 digits")
    if blen > 19:
        raise _Fail(cols[b0], "range bound over 19 digits")
    lo = int(s[a0:a0 + alen]) if alen else 0
    hi = int(s[b0:b0 + blen]) if blen else None
    if hi is not None and lo > hi:
        raise _Fail(cols[i], "range {%s} is empty" % s[i + 1:j].decode())
    return lo, hi, j + 1


def _skip_atom(s, cols, i):
    """The index after the atom at s[i]: an escape, a class, a range or
    one byte (for validated text)."""
    try:
        if s[i] == _BS:
            return i + 2
        if s[i] == _LBRACK:
            return _class_parse(s, cols, i)[1]
        if s[i] == _LBRACE:
            r = _range_parse(s, cols, i)
            if r:
                return r[2]
    except _Fail:
        pass
    return i + 1


def _opens_group(s, cols, i):
    """True when s[i] is a '{' that opens alternatives (not a range)."""
    return s[i] == _LBRACE and _skip_atom(s, cols, i) == i + 1


def _validate(s, cols):
    """Pass 1: the syntax of the whole source; raises at the leftmost
    error."""
    n, i, opened, full = len(s), 0, [], [True]
    while i < n:
        c = s[i]
        if c == _BS:
            if i + 1 >= n:
                raise _Fail(cols[i], "trailing '\\'")
            if s[i + 1] == _DOT:
                raise _Fail(cols[i], "'\\.' is not allowed ('.' always "
                            "separates segments)")
            i += 2
        elif c == _LBRACK:
            i = _class_parse(s, cols, i)[1]
        elif c == _RBRACK:
            raise _Fail(cols[i], "unmatched ']'")
        elif c == _LBRACE:
            r = _range_parse(s, cols, i)
            if r:
                i = r[2]
            else:
                opened.append(i)
                full.append(False)
                i += 1
                continue
        elif c == _RBRACE:
            if not opened:
                raise _Fail(cols[i], "unmatched '}'")
            if not full[-1]:
                raise _Fail(cols[i], "empty alternative")
            opened.pop()
            full.pop()
            i += 1
        elif c == _COMMA and opened:
            if not full[-1]:
                raise _Fail(cols[i], "empty alternative")
            full[-1] = False
            i += 1
            continue
        else:
            i += 1
        full[-1] = True
    if opened:
        raise _Fail(cols[opened[-1]], "unclosed '{'")


def _emit_segment(s, cols):
    """Pass 3, one segment: a literal (bytes), _DSTAR, a range
    ("range", lo, hi) or a list of tokens."""
    n = len(s)
    if s == b"**":
        return _DSTAR
    toks, plain, i = [], True, 0
    while i < n:
        c = s[i]
        if c == _BS:
            toks.append(s[i + 1])
            i += 2
        elif c == 0x2A:  # '*'
            if i + 1 < n and s[i + 1] == 0x2A:
                raise _Fail(cols[i], "'**' must be a whole segment")
            toks.append("*")
            plain = False
            i += 1
        elif c == 0x3F:  # '?'
            toks.append("?")
            plain = False
            i += 1
        elif c == _LBRACK:
            cls, i = _class_parse(s, cols, i)
            toks.append(cls)
            plain = False
        elif c == _LBRACE:  # only ranges are left after expanding
            lo, hi, end = _range_parse(s, cols, i)
            if i != 0 or end != n:
                raise _Fail(cols[i], "range {%s} must be a whole segment"
                            % s[i + 1:end - 1].decode())
            return ("range", lo, hi)
        else:
            toks.append(c)
            i += 1
    return bytes(toks) if plain else toks


def _emit_branch(s, cols, state):
    """Pass 3: one expanded glob becomes one branch (a list of segment
    matchers ending in _DSTAR)."""
    n = len(s)
    if state["expanded"] + n > _MAX_EXPANDED:
        raise _Fail(cols[0], "pattern expands to more than %d bytes"
                    % _MAX_EXPANDED)
    state["expanded"] += n
    segs, st, i = [], 0, 0
    while True:
        if i == n or s[i] == _DOT:
            if i == st:
                raise _Fail(cols[st if st < n else st - 1], "empty segment")
            segs.append(_emit_segment(s[st:i], cols[st:i]))
            if len(segs) >= 2 and segs[-1] is _DSTAR and segs[-2] is _DSTAR:
                segs.pop()  # "**.**" is "**"
            if i == n:
                break
            st = i = i + 1
            continue
        i = _skip_atom(s, cols, i)
    if segs[-1] is not _DSTAR:
        segs.append(_DSTAR)  # the subtree rule
    return segs


def _expand(src, src_cols):
    """Pass 2: expands every {a,b} group, bash-style, depth first in the
    order the C core does (its recursion is a stack here), and emits a
    branch for each glob left."""
    state = {"expanded": 0}
    branches, work = [], 0
    stack = [(src, src_cols, None)]
    while stack:
        s, cols, group_col = stack.pop()
        if group_col is not None:
            if len(branches) >= MAX_BRANCHES:
                raise _Fail(group_col, "more than %d alternatives after "
                            "expanding '{'" % MAX_BRANCHES)
            work += len(s)
            if work > _EXPAND_WORK_MAX:
                raise _Fail(group_col, "pattern expands too far")
        n, b = len(s), 0
        while b < n and not _opens_group(s, cols, b):
            b = _skip_atom(s, cols, b)
        if b == n:
            branches.append(_emit_branch(s, cols, state))
            continue
        depth, e = 0, b + 1
        while e < n:  # the matching '}'
            if _opens_group(s, cols, e):
                depth += 1
            elif s[e] == _RBRACE:
                if depth == 0:
                    break
                depth -= 1
            e = _skip_atom(s, cols, e)
        alts, depth, start, i = [], 0, b + 1, b + 1
        while i <= e:
            nxt = _skip_atom(s, cols, i)
            if _opens_group(s, cols, i):
                depth += 1
            elif s[i] == _RBRACE and i < e:
                depth -= 1
            elif i == e or (s[i] == _COMMA and depth == 0):
                alts.append((s[:b] + s[start:i] + s[e + 1:],
                             cols[:b] + cols[start:i] + cols[e + 1:],
                             cols[b]))
                start = i + 1
            i = nxt
        stack.extend(reversed(alts))
    return branches


def _glob_class(cls):
    neg, ranges = cls
    members = set()
    for lo, hi in ranges:
        members.update(range(lo, hi + 1))
    if neg:
        members = set(range(256)) - members
    members.discard(_DOT)  # a class never matches '.'
    return _byte_class(members)


def _group(alts):
    return alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"


def _digits_between(a, b):
    """Regex alternatives for the decimal strings from a to b, both of the
    same length (a <= b)."""
    if a == b:
        return [a.encode()]
    if len(a) == 1:
        return [b"[%s-%s]" % (a.encode(), b.encode())]
    if a[0] == b[0]:
        return [a[0].encode() + _group(_digits_between(a[1:], b[1:]))]
    rest, lo, hi, out = len(a) - 1, int(a[0]), int(b[0]), []
    if a[1:] != "0" * rest:
        out.append(a[0].encode() + _group(_digits_between(a[1:], "9" * rest)))
        lo += 1
    tail = b[1:] != "9" * rest
    if tail:
        hi -= 1
    if lo <= hi:
        out.append(b"[%d-%d][0-9]{%d}" % (lo, hi, rest))
    if tail:
        out.append(b[0].encode() + _group(_digits_between("0" * rest, b[1:])))
    return out


def _range_regex(lo, hi):
    """A regex for the canonical decimal integers (no sign, no leading
    zero) from lo to hi (None: no upper bound)."""
    alts, lo_len = [], len(str(lo))
    for length in range(lo_len, len(str(hi)) + 1 if hi is not None
                        else lo_len + 1):
        a = max(lo, 10 ** (length - 1) if length > 1 else 0)
        b = 10 ** length - 1 if hi is None else min(hi, 10 ** length - 1)
        if a <= b:
            alts.extend(_digits_between(str(a), str(b)))
    if hi is None:
        alts.append(b"[1-9][0-9]{%d,}" % lo_len)
    return _group(alts)


def _segment_regex(seg):
    if seg is _DSTAR:
        return b"(?:[^.]*\\.)*"
    if isinstance(seg, bytes):
        return re.escape(seg) + b"\\."
    if isinstance(seg, tuple):
        return _range_regex(seg[1], seg[2]) + b"\\."
    parts = []
    for t in seg:
        if t == "*":
            parts.append(b"[^.]*")
        elif t == "?":
            parts.append(b"[^.]")
        elif isinstance(t, tuple):
            parts.append(_glob_class(t))
        else:
            parts.append(re.escape(bytes([t])))
    return b"".join(parts) + b"\\."


def _compile_glob(src):
    cols = list(range(1, len(src) + 1))  # each byte's source column
    _validate(src, cols)
    rx = b"|".join(b"".join(_segment_regex(g) for g in branch)
                   for branch in _expand(src, cols))
    return re.compile(rx, re.DOTALL)


# ---------------------------------------------------------------------------
# Patterns

def _encode(name):
    return name if isinstance(name, bytes) else \
        name.encode("utf-8", "surrogateescape")


class Pattern:
    """A compiled pattern (compile_pattern). match(name) says whether one
    name (str or bytes) matches; select(names) gives the indexes of the
    names that match."""

    __slots__ = ("source", "is_regex", "_rx")

    def __init__(self, source, is_regex, rx):
        self.source, self.is_regex, self._rx = source, is_regex, rx

    def match(self, name):
        return bool(self.select([name]))

    def select(self, names):
        if self.is_regex:
            search = self._rx.search
            return [i for i, n in enumerate(names) if search(_encode(n))]
        full = self._rx.fullmatch
        out = []
        for i, n in enumerate(names):
            b = _encode(n)
            if len(b) <= _MAX_NAME and full(b + b"."):
                out.append(i)
        return out

    def __repr__(self):
        return "Pattern(%r)" % self.source


def compile_pattern(source):
    """Compiles a pattern (docs/patterns.md) exactly as the C core does:
    the same patterns compile, and a bad one raises PatternError with the
    core's message and column."""
    src = _encode(source)
    if not src:
        raise PatternError("empty pattern", 1)
    if len(src) > MAX_PATTERN:
        raise PatternError("pattern longer than %d bytes" % MAX_PATTERN,
                           MAX_PATTERN + 1)
    if b"\0" in src:
        raise PatternError("NUL byte in pattern", src.index(b"\0") + 1)
    try:
        if src.startswith(b"re:"):
            return Pattern(source, True, _compile_regex(src))
        return Pattern(source, False, _compile_glob(src))
    except _Fail as e:
        raise PatternError(e.what, e.column) from None
