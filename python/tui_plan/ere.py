"""tui_plan.ere: `re:` patterns, POSIX extended regexes as the C core's
glibc regcomp reads them, written in Python's `re` syntax."""

import re

from .errors import _Fail
from .lex import (_BS, _COMMA, _LBRACE, _LBRACK, _RBRACE, _RBRACK,
                  _byte_class, _is_digit)

# ---------------------------------------------------------------------------
# "re:": POSIX extended regexes (tui/core/pattern_regex.c, glibc regcomp
# with REG_EXTENDED in the C locale)
#
# The C core first refuses regexes that make glibc's regcomp blow up
# (_regex_check_safe mirrors that), then calls regcomp. Here a parser
# that follows glibc's (posix/regcomp.c: parse_reg_exp, parse_branch,
# parse_expression, parse_dup_op, parse_bracket_exp) accepts what glibc
# accepts and writes the same regex in Python's syntax: bracket
# expressions with [:classes:], [=c=] and [.c.] become byte sets, `\` is
# literal inside brackets, an unmatched `)` and a `}` are literal, `$`
# is \Z, GNU's \< \> \b \B \w \W \s \S \` \' get their glibc meaning, any
# other `\c` is the byte c (so \d is "d", as in glibc), `{,n}` is `{0,n}`.

_REGEX_MAX_REPEAT = 255
_REGEX_MAX_DEPTH = 32
_RE_DUP_MAX = 0x7FFF
_WORD = b"[0-9A-Za-z_]"  # \w in the C locale


def _ascii(test):
    return frozenset(c for c in range(128) if test(chr(c)))


# the POSIX character classes in the C locale
_CTYPES = {
    b"alpha": _ascii(str.isalpha), b"upper": _ascii(str.isupper),
    b"lower": _ascii(str.islower), b"digit": _ascii(str.isdigit),
    b"alnum": _ascii(str.isalnum),
    b"xdigit": _ascii(lambda ch: ch in "0123456789abcdefABCDEF"),
    b"space": _ascii(lambda ch: ch in " \t\n\v\f\r"),
    b"blank": _ascii(lambda ch: ch in " \t"),
    b"print": _ascii(lambda ch: " " <= ch <= "~"),
    b"graph": _ascii(lambda ch: "!" <= ch <= "~"),
    b"punct": _ascii(lambda ch: "!" <= ch <= "~" and not ch.isalnum()),
    b"cntrl": _ascii(lambda ch: ch < " " or ch == "\x7f"),
}


def _strtoul(r, i):
    """C's strtoul(r + i, &end, 10): (value, end index)."""
    n, j = len(r), i
    while j < n and r[j] in b" \t\n\v\f\r":
        j += 1
    neg = j < n and r[j] == 0x2D
    if j < n and r[j] in b"+-":
        j += 1
    k = j
    while k < n and _is_digit(r[k]):
        k += 1
    if k == j:
        return 0, i
    v = int(r[j:k])
    if v >= 2 ** 64:
        return 2 ** 64 - 1, k  # ULONG_MAX, whatever the sign
    return ((2 ** 64 - v) % 2 ** 64 if neg else v), k


def _regex_check_safe(r):
    """pattern_regex.c's regex_check_safe: refuses stacked quantifiers,
    counts above 255, a counted repeat of a group holding one, and groups
    nested deeper than 32. Columns count the "re:" prefix."""
    n, i, depth = len(r), 0, 0
    counted = [0] * (_REGEX_MAX_DEPTH + 1)
    prev_quant = prev_group_counted = 0
    while i < n:
        col, ch = i + 4, r[i]
        quant = closed_counted = 0
        if ch == _BS:
            i += 2 if i + 1 < n else 1
        elif ch == _LBRACK:
            j = i + 1
            if j < n and r[j] == 0x5E:
                j += 1
            if j < n and r[j] == _RBRACK:
                j += 1
            while j < n and r[j] != _RBRACK:
                if r[j] == _LBRACK and j + 1 < n and r[j + 1] in b":.=":
                    end = r[j + 1]
                    j += 2
                    while j < n and not (r[j] == end and j + 1 < n
                                         and r[j + 1] == _RBRACK):
                        j += 1
                    if j < n:
                        j += 1
                if j < n:
                    j += 1
            i = j + 1 if j < n else j
        elif ch == 0x28:  # '('
            depth += 1
            if depth > _REGEX_MAX_DEPTH:
                raise _Fail(col, "groups nested deeper than 32")
            counted[depth] = 0
            i += 1
        elif ch == 0x29:  # ')'
            if depth > 0:
                closed_counted = counted[depth]
                depth -= 1
                if closed_counted:
                    counted[depth] = 1
            i += 1
        elif ch in b"*+?{":
            quant = 1
            if prev_quant:
                raise _Fail(col, "a quantifier right after another one")
            if ch == _LBRACE:
                lo, end = _strtoul(r, i + 1)
                hi = lo
                if end < n and r[end] == _COMMA:
                    if end + 1 < n and r[end + 1] == _RBRACE:
                        hi = 0
                    else:
                        hi, end = _strtoul(r, end + 1)
                if lo > _REGEX_MAX_REPEAT or hi > _REGEX_MAX_REPEAT:
                    raise _Fail(col, "a repeat count above 255")
                if prev_group_counted:
                    raise _Fail(col, "a counted repeat of a group that "
                                "holds one")
                counted[depth] = 1
                while i < n and r[i] != _RBRACE:
                    i += 1
            if i < n:
                i += 1
        else:
            i += 1
        prev_quant, prev_group_counted = quant, closed_counted


class _RegexError(Exception):
    pass


# token kinds of glibc's peek_token
(_T_CHAR, _T_END, _T_BACKSLASH, _T_ALT, _T_STAR, _T_PLUS, _T_QUES,
 _T_OPEN_DUP, _T_CLOSE_DUP, _T_OPEN, _T_CLOSE, _T_BRACKET, _T_PERIOD,
 _T_ANCHOR, _T_BACKREF, _T_CLASS) = range(16)

_WORD_START = b"(?<!" + _WORD + b")(?=" + _WORD + b")"
_WORD_END = b"(?<=" + _WORD + b")(?!" + _WORD + b")"
_ANCHORS = {  # \c -> Python, as glibc reads them (GNU extensions)
    ord("<"): _WORD_START, ord(">"): _WORD_END,
    ord("b"): b"(?:" + _WORD_START + b"|" + _WORD_END + b")",
    ord("B"): b"(?:(?<=" + _WORD + b")(?=" + _WORD + b")|(?<!" + _WORD
              + b")(?!" + _WORD + b"))",
    ord("`"): b"\\A", ord("'"): b"\\Z",
}
_CLASS_ESCAPES = {
    ord("w"): _WORD, ord("W"): b"[^0-9A-Za-z_]",
    ord("s"): b"[\\t\\n\\v\\f\\r ]", ord("S"): b"[^\\t\\n\\v\\f\\r ]",
}
_PLAIN_TOKENS = {
    ord("|"): _T_ALT, ord("*"): _T_STAR, ord("+"): _T_PLUS,
    ord("?"): _T_QUES, ord("{"): _T_OPEN_DUP, ord("}"): _T_CLOSE_DUP,
    ord("("): _T_OPEN, ord(")"): _T_CLOSE, ord("["): _T_BRACKET,
    ord("."): _T_PERIOD,
}


class _EreParser:
    """glibc's ERE parser, writing Python regex text instead of a tree."""

    def __init__(self, r):
        self.r, self.i = r, 0
        self.nsub, self.completed = 0, 0
        self.tok = None

    def fetch(self):
        """Reads the next token into self.tok = (kind, byte, value)."""
        r, i = self.r, self.i
        if i >= len(r):
            self.tok = (_T_END, 0, None)
            return
        c = r[i]
        if c == _BS:
            if i + 1 >= len(r):
                self.tok = (_T_BACKSLASH, c, None)
                self.i += 1
                return
            c2 = r[i + 1]
            self.i += 2
            if 0x31 <= c2 <= 0x39:
                self.tok = (_T_BACKREF, c2, c2 - 0x31)
            elif c2 in _ANCHORS:
                self.tok = (_T_ANCHOR, c2, _ANCHORS[c2])
            elif c2 in _CLASS_ESCAPES:
                self.tok = (_T_CLASS, c2, _CLASS_ESCAPES[c2])
            else:
                self.tok = (_T_CHAR, c2, None)
            return
        self.i += 1
        if c == 0x5E:
            self.tok = (_T_ANCHOR, c, b"^")
        elif c == 0x24:
            self.tok = (_T_ANCHOR, c, b"\\Z")
        else:
            self.tok = (_PLAIN_TOKENS.get(c, _T_CHAR), c, None)

    def parse(self):
        self.fetch()
        return self.reg_exp(0)

    def reg_exp(self, nest):
        initial = self.completed
        out = [self.branch(nest)]
        while self.tok[0] == _T_ALT:
            self.fetch()
            if (self.tok[0] not in (_T_ALT, _T_END)
                    and (nest == 0 or self.tok[0] != _T_CLOSE)):
                accumulated = self.completed
                self.completed = initial
                out.append(self.branch(nest))
                self.completed |= accumulated
            else:
                out.append(b"")
        return b"|".join(out)

    def branch(self, nest):
        out = [self.expression(nest)]
        while (self.tok[0] not in (_T_ALT, _T_END)
               and (nest == 0 or self.tok[0] != _T_CLOSE)):
            out.append(self.expression(nest))
        return b"".join(out)

    def expression(self, nest):
        kind, c, val = self.tok
        if kind in (_T_CHAR, _T_CLOSE, _T_CLOSE_DUP):
            atom = re.escape(bytes([c]))
        elif kind == _T_OPEN:
            atom = self.sub_exp(nest + 1)
        elif kind == _T_BRACKET:
            atom = self.bracket()
        elif kind == _T_BACKREF:
            if not self.completed & (1 << val):
                raise _RegexError("Invalid back reference")
            atom = b"(?:\\%d)" % (val + 1)
        elif kind in (_T_STAR, _T_PLUS, _T_QUES, _T_OPEN_DUP):
            raise _RegexError("Invalid preceding regular expression")
        elif kind == _T_ANCHOR:
            self.fetch()
            return val  # an anchor takes no repetition
        elif kind == _T_PERIOD:
            atom = b"."
        elif kind == _T_CLASS:
            atom = val
        elif kind == _T_BACKSLASH:
            raise _RegexError("Trailing backslash")
        else:  # _T_ALT, _T_END: an empty expression
            return b""
        self.fetch()
        while self.tok[0] in (_T_STAR, _T_PLUS, _T_QUES, _T_OPEN_DUP):
            atom = b"(?:" + atom + b")" + self.dup_op()
        return atom

    def sub_exp(self, nest):
        cur = self.nsub
        self.nsub += 1
        self.fetch()
        body = b""
        if self.tok[0] != _T_CLOSE:
            body = self.reg_exp(nest)
            if self.tok[0] != _T_CLOSE:
                raise _RegexError("Unmatched ( or \\(")
        if cur <= 8:
            self.completed |= 1 << cur
        return b"(" + body + b")"

    def fetch_number(self):
        num = -1
        while True:
            self.fetch()
            kind, c, _ = self.tok
            if kind == _T_END:
                return -2
            if kind == _T_CLOSE_DUP or c == _COMMA:
                return num
            if kind != _T_CHAR or not _is_digit(c) or num < -1:
                num = -2
            else:
                num = (c - 0x30 if num == -1
                       else min(_RE_DUP_MAX + 1, num * 10 + c - 0x30))

    def dup_op(self):
        """The quantifier at self.tok, as Python text."""
        kind = self.tok[0]
        if kind != _T_OPEN_DUP:
            self.fetch()
            return {_T_STAR: b"*", _T_PLUS: b"+", _T_QUES: b"?"}[kind]
        start = self.fetch_number()
        end = 0
        if start == -1:
            if self.tok[0] == _T_CHAR and self.tok[1] == _COMMA:
                start = 0  # "{,m}" is "{0,m}"
            else:
                raise _RegexError("Invalid content of \\{\\}")
        if start != -2:
            if self.tok[0] == _T_CLOSE_DUP:
                end = start
            elif self.tok[0] == _T_CHAR and self.tok[1] == _COMMA:
                end = self.fetch_number()
            else:
                end = -2
        if start == -2 or end == -2:
            if self.tok[0] == _T_END:
                raise _RegexError("Unmatched \\{")
            raise _RegexError("Invalid content of \\{\\}")
        if (end != -1 and start > end) or self.tok[0] != _T_CLOSE_DUP:
            raise _RegexError("Invalid content of \\{\\}")
        if (start if end == -1 else end) > _RE_DUP_MAX:
            raise _RegexError("Regular expression too big")
        self.fetch()
        if end == -1:
            return b"{%d,}" % start
        return b"{%d}" % start if start == end else b"{%d,%d}" % (start, end)

    # bracket expressions: glibc's peek_token_bracket and friends
    def bracket_token(self):
        """(kind, byte, length) of the bracket token at self.i; kind is
        one of "end", "char", "range", "close", "hat", or the opening
        byte of "[." "[=" "[:"."""
        r, i = self.r, self.i
        if i >= len(r):
            return ("end", 0, 0)
        c = r[i]
        if c == _LBRACK and i + 1 < len(r) and r[i + 1] in b".=:":
            return (r[i + 1], r[i + 1], 2)
        kind = {0x2D: "range", _RBRACK: "close", 0x5E: "hat"}.get(c, "char")
        return (kind, c, 1)

    def bracket_symbol(self, delim):
        """The name of a [.x.], [=x=] or [:x:] after its opening."""
        r, name = self.r, bytearray()
        if self.i >= len(r):
            raise _RegexError("Unmatched [, [^, [:, [., or [=")
        while True:
            if len(name) >= 32:
                raise _RegexError("Unmatched [, [^, [:, [., or [=")
            ch = r[self.i]
            self.i += 1
            if self.i >= len(r):
                raise _RegexError("Unmatched [, [^, [:, [., or [=")
            if ch == delim and r[self.i] == _RBRACK:
                break
            name.append(ch)
        self.i += 1
        return bytes(name)

    def bracket_element(self, tok, accept_hyphen):
        """(kind, value): ("char", byte), ("coll", name), ("equiv", name)
        or ("class", name)."""
        kind, c, length = tok
        self.i += length
        if kind in (0x2E, 0x3D, 0x3A):
            name = self.bracket_symbol(kind)
            return ({0x2E: "coll", 0x3D: "equiv", 0x3A: "class"}[kind], name)
        if kind == "range" and not accept_hyphen:
            if self.bracket_token()[0] != "close":
                raise _RegexError("Invalid range end")
        return ("char", c)

    def bracket(self):
        members, neg, first = set(), False, True
        tok = self.bracket_token()
        if tok[0] == "end":
            raise _RegexError("Invalid regular expression")
        if tok[0] == "hat":
            neg = True
            self.i += tok[2]
            tok = self.bracket_token()
            if tok[0] == "end":
                raise _RegexError("Invalid regular expression")
        if tok[0] == "close":
            tok = ("char", tok[1], tok[2])  # a first ']' is a member
        while True:
            start = self.bracket_element(tok, first)
            first = False
            tok = self.bracket_token()
            is_range = False
            if start[0] not in ("class", "equiv"):
                if tok[0] == "end":
                    raise _RegexError("Unmatched [, [^, [:, [., or [=")
                if tok[0] == "range":
                    self.i += tok[2]
                    tok2 = self.bracket_token()
                    if tok2[0] == "end":
                        raise _RegexError("Unmatched [, [^, [:, [., or [=")
                    if tok2[0] == "close":
                        self.i -= tok[2]  # a last '-' is a member
                        tok = ("char", tok[1], tok[2])
                    else:
                        is_range = True
            if is_range:
                end = self.bracket_element(tok2, True)
                tok = self.bracket_token()
                members.update(range(self.range_end(start),
                                     self.range_end(end, start) + 1))
            else:
                members.update(self.element_members(start))
            if tok[0] == "end":
                raise _RegexError("Unmatched [, [^, [:, [., or [=")
            if tok[0] == "close":
                break
        self.i += tok[2]
        if neg:
            members = set(range(256)) - members
        return _byte_class(members)

    @staticmethod
    def element_members(el):
        kind, v = el
        if kind == "char":
            return {v}
        if kind == "class":
            if v not in _CTYPES:
                raise _RegexError("Invalid character class name")
            return _CTYPES[v]
        if len(v) != 1:
            raise _RegexError("Invalid collation character")
        return {v[0]}

    @staticmethod
    def range_end(el, start=None):
        """The byte value of a range end (start given: the upper end,
        checked against it)."""
        kind, v = el
        if kind in ("class", "equiv"):
            raise _RegexError("Invalid range end")
        if kind == "coll" and len(v) != 1:
            raise _RegexError("Invalid collation character")
        value = v if kind == "char" else v[0]
        if start is not None and _EreParser.range_end(start) > value:
            raise _RegexError("Invalid range end")
        return value


def _compile_regex(src):
    r = src[3:]
    if not r:
        raise _Fail(4, "empty regex after 're:'")
    _regex_check_safe(r)
    try:
        text = _EreParser(r).parse()
    except _RegexError as e:
        raise _Fail(4, "invalid regex (%s)" % e) from None
    return re.compile(text, re.DOTALL)
