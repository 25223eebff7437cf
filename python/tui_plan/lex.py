"""tui_plan.lex: the bytes both pattern forms are spelled in."""

_BS, _DOT, _COMMA = 0x5C, 0x2E, 0x2C
_LBRACK, _RBRACK, _LBRACE, _RBRACE = 0x5B, 0x5D, 0x7B, 0x7D


def _is_digit(c):
    return 0x30 <= c <= 0x39


def _byte_class(members):
    """A Python bytes-regex class for a set of byte values."""
    if not members:
        return b"(?!)"
    out, vals, k = [], sorted(members), 0
    while k < len(vals):
        lo = hi = vals[k]
        while k + 1 < len(vals) and vals[k + 1] == hi + 1:
            k += 1
            hi = vals[k]
        out.append(b"\\x%02x" % lo if lo == hi
                   else b"\\x%02x-\\x%02x" % (lo, hi))
        k += 1
    return b"[" + b"".join(out) + b"]"
