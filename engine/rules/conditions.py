"""Read a condition as a supervisor writes it ("< 30", "[30..45)", "in [A, B]", "missing", "!= 0 or missing")
and type it against the input it tests.

Grammar (one cell of a decision table; alternatives joined by `or`):
    missing | present | any | -                 missing tests; `any` / `-` match everything
    < v | <= v | > v | >= v | == v | != v       comparisons (numbers; == and != also for labels and true/false)
    [a..b] | [a..b) | (a..b] | (a..b)           ranges, ends closed with [ ] or open with ( )
    in [v, …] | not in [v, …] | in $param.list  set membership
    v                                           equality: a number, a label, true or false
where v is a number, a label (quote it if it has spaces), true/false, or `$param.name`.
YAML values work too: `true`, `3`, and a list `[A, B]` meaning `in [A, B]`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.rules.codes import Code
from engine.rules.model import Parameter, UnaryTest

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|==|!=|<|>)
      | (?P<dots>\.\.)
      | (?P<punct>[\[\](),])
      | (?P<qstr>"(?:[^"\\]|\\.)*"|'[^']*')
      | (?P<param>\$param\.[A-Za-z_][A-Za-z0-9_]*)
      | (?P<num>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![A-Za-z_\u0080-\uffff]))
      | (?P<word>[^\s\[\](),<>=!"']+?(?=\s|$|[\[\](),<>=!]|\.\.))
    )""",
    re.VERBOSE,
)

_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_KEYWORDS = {"or", "in", "not", "missing", "present", "any", "-"}


# Internal, not a SuijianError: it never reaches the user. The pack checker catches it where it reads a cell and
# turns it into a Finding at that cell's file:line, so one bad condition does not stop the check of the others.
class ConditionError(Exception):
    """A condition that cannot be read or does not fit its input; `code` is the finding code."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Lit:
    """A literal as written: kind is num, str (quoted), word, bool or param."""

    kind: str
    value: Any
    text: str


@dataclass(frozen=True)
class Alt:
    """One alternative of a condition before typing."""

    op: str  # missing present any cmp range in not_in eq
    cmp: str = ""
    lits: tuple[Lit, ...] = ()
    lo_closed: bool = True
    hi_closed: bool = True
    set_param: Lit | None = None


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m or m.end() == pos:
            bad = stripped[pos:].strip()[:20]
            raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r} at {bad!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse(text: str) -> tuple[Alt, ...]:
    """Parse a condition string into its alternatives (untyped)."""
    toks = _tokens(text)
    if not toks:
        raise ConditionError(Code.BAD_CONDITION, 'empty condition; write a test such as ">= 3", "missing" or "any"')
    alts: list[Alt] = []
    i = 0

    def expect(kind: str, value: str | None = None) -> str:
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind or (value is not None and toks[i][1] != value):
            got = toks[i][1] if i < len(toks) else "the end"
            want = value or kind
            raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: expected {want!r}, found {got!r}")
        i += 1
        return toks[i - 1][1]

    def literal() -> Lit:
        nonlocal i
        if i >= len(toks):
            raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: a value is missing at the end")
        kind, tok = toks[i]
        i += 1
        if kind == "num":
            number = float(tok) if any(c in tok for c in ".eE") else int(tok)
            return Lit("num", number, tok)
        if kind == "qstr":
            return Lit("str", tok[1:-1].replace('\\"', '"'), tok)
        if kind == "param":
            return Lit("param", tok[len("$param.") :], tok)
        if kind == "word":
            low = tok.lower()
            if low in ("true", "false"):
                return Lit("bool", low == "true", tok)
            if low in _KEYWORDS:
                raise ConditionError(
                    Code.BAD_CONDITION,
                    f"cannot read {text!r}: {tok!r} is a keyword here; quote it if it is a label",
                )
            return Lit("word", tok, tok)
        raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: expected a value, found {tok!r}")

    def value_list() -> tuple[tuple[Lit, ...], Lit | None]:
        nonlocal i
        if i < len(toks) and toks[i][0] == "param":
            return (), literal()
        expect("punct", "[")
        items = [literal()]
        while i < len(toks) and toks[i] == ("punct", ","):
            i += 1
            items.append(literal())
        expect("punct", "]")
        return tuple(items), None

    while True:
        if i >= len(toks):
            raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: a test is missing after 'or'")
        kind, tok = toks[i]
        low = tok.lower() if kind == "word" else ""
        if kind == "word" and low in ("missing", "present", "any", "-"):
            i += 1
            alts.append(Alt("any" if low == "-" else low))
        elif kind == "op":
            i += 1
            alts.append(Alt("cmp", cmp=_OPS[tok], lits=(literal(),)))
        elif kind == "punct" and tok in "[(":
            i += 1
            lo = literal()
            expect("dots")
            hi = literal()
            if i >= len(toks) or toks[i][0] != "punct" or toks[i][1] not in "])":
                raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: a range ends with ] or )")
            close = toks[i][1]
            i += 1
            alts.append(Alt("range", lits=(lo, hi), lo_closed=tok == "[", hi_closed=close == "]"))
        elif kind == "word" and low == "in":
            i += 1
            items, param = value_list()
            alts.append(Alt("in", lits=items, set_param=param))
        elif kind == "word" and low == "not":
            i += 1
            expect("word", None)
            if toks[i - 1][1].lower() != "in":
                raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: 'not' must be followed by 'in'")
            items, param = value_list()
            alts.append(Alt("not_in", lits=items, set_param=param))
        else:
            alts.append(Alt("eq", lits=(literal(),)))
        if i >= len(toks):
            break
        kind, tok = toks[i]
        if kind == "word" and tok.lower() == "or":
            i += 1
            continue
        if kind == "dots":
            raise ConditionError(
                Code.BAD_CONDITION,
                f'cannot read {text!r}: write a range with brackets, e.g. "[3..4]" or "[3..4)"',
            )
        raise ConditionError(Code.BAD_CONDITION, f"cannot read {text!r}: unexpected {tok!r} (join tests with 'or')")
    return tuple(alts)


def from_yaml(value: Any) -> tuple[tuple[Alt, ...], str]:
    """Turn a YAML cell (string, number, true/false or list) into alternatives plus the text shown to users."""
    if isinstance(value, bool):
        return (Alt("eq", lits=(Lit("bool", value, "true" if value else "false"),)),), "true" if value else "false"
    if isinstance(value, (int, float)):
        return (Alt("eq", lits=(Lit("num", value, repr(value)),)),), repr(value)
    if isinstance(value, str):
        return parse(value), value.strip()
    if isinstance(value, list):
        if not value:
            raise ConditionError(Code.BAD_CONDITION, "an empty list matches nothing; list at least one value")
        lits = []
        for item in value:
            if isinstance(item, bool):
                lits.append(Lit("bool", item, "true" if item else "false"))
            elif isinstance(item, (int, float)):
                lits.append(Lit("num", item, repr(item)))
            elif isinstance(item, str):
                if item.startswith("$param."):
                    lits.append(Lit("param", item[len("$param.") :], item))
                elif re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*\.\.\s*[-+]?\d+(\.\d+)?\s*[)\]]?\s*", item):
                    raise ConditionError(
                        Code.BAD_CONDITION,
                        f'[{item.strip()}] reads as a list in YAML; put a range in quotes, e.g. "[{item.strip()}]"',
                    )
                else:
                    lits.append(Lit("str", item, item))
            else:
                raise ConditionError(
                    Code.BAD_CONDITION,
                    f"a list of values may hold numbers, labels or true/false, not {_shown(item)}",
                )
        text = "in [" + ", ".join(lit.text for lit in lits) + "]"
        return (Alt("in", lits=tuple(lits)),), text
    if value is None:
        raise ConditionError(Code.BAD_CONDITION, 'empty condition; write a test such as ">= 3", "missing" or "any"')
    raise ConditionError(
        Code.BAD_CONDITION, f'a condition is a test such as ">= 3" or a list of values, not {_shown(value)}'
    )


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


def describe_type(name: str, type_: str, values: Sequence[Any] | None) -> str:
    if values and type_ != "list":
        return f"'{name}' is one of {', '.join(_plain(v) if not isinstance(v, str) else v for v in values)}"
    if type_ == "int":
        return f"'{name}' is a whole number"
    if type_ == "float":
        return f"'{name}' is a number"
    if type_ == "bool":
        return f"'{name}' is true or false"
    if type_ == "list":
        return f"'{name}' is a list"
    if values:
        return f"'{name}' is one of {', '.join(map(str, values))}"
    return f"'{name}' is a label"


def _got(lit: Lit) -> str:
    if lit.kind in ("word", "str"):
        return f'"{lit.value}"'
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    return lit.text


def bind_value(lit: Lit, name: str, type_: str, values: Sequence[Any] | None, params: Mapping[str, Parameter]) -> Any:
    """The typed value of a literal for an input or output of `type_`, or ConditionError saying why not."""
    if lit.kind == "param":
        param = params.get(lit.value)
        if param is None:
            raise ConditionError(Code.UNKNOWN_PARAMETER, unknown_parameter_message(lit.value, params))
        if param.type == "list":
            raise ConditionError(
                Code.TYPE_ERROR,
                f"{describe_type(name, type_, values)}; $param.{lit.value} is a list (use it with 'in')",
            )
        return coerce(param.value, name, type_, values, f"$param.{lit.value} = {_plain(param.value)}")
    raw: Any = lit.value
    if lit.kind == "word" and lit.value.startswith("$"):
        raise ConditionError(Code.UNKNOWN_PARAMETER, f"{lit.value!r} is not a parameter reference; write $param.name")
    if lit.kind == "num" and type_ == "str":
        raw = lit.text
    shown = _got(lit)
    if lit.kind in ("word", "str") and type_ in ("int", "float", "bool"):
        raise ConditionError(Code.TYPE_ERROR, f"{describe_type(name, type_, values)}, got {shown}")
    return coerce(raw, name, type_, values, shown)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def coerce(raw: Any, name: str, type_: str, values: Sequence[Any] | None, shown: str | None = None) -> Any:
    """Check `raw` fits `type_` (and its closed set); return it in canonical form (floats as float)."""
    shown = shown if shown is not None else _plain(raw)
    what = describe_type(name, type_, values)
    if type_ == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConditionError(Code.TYPE_ERROR, f"{what}, got {shown}")
        value: Any = raw
    elif type_ == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise ConditionError(Code.TYPE_ERROR, f"{what}, got {shown}")
        value = float(raw)
    elif type_ == "bool":
        if not isinstance(raw, bool):
            raise ConditionError(Code.TYPE_ERROR, f"{what}, got {shown}")
        value = raw
    elif type_ == "str":
        if not isinstance(raw, str):
            raise ConditionError(Code.TYPE_ERROR, f"{what}, got {shown}")
        value = raw
    else:
        raise ConditionError(Code.TYPE_ERROR, f"{what}; a condition cannot test a list")
    if values and type_ in ("str", "int", "float", "bool") and value not in values:
        hint = did_you_mean(str(value), [str(v) for v in values])
        raise ConditionError(Code.TYPE_ERROR, f"{what}, got {shown}{hint}")
    return value


def bind(
    alts: Sequence[Alt], name: str, type_: str, values: Sequence[Any] | None, params: Mapping[str, Parameter]
) -> tuple[UnaryTest, ...]:
    """Type every alternative against the input; raise ConditionError (type_error, unknown_parameter, …)."""
    if type_ == "list":
        raise ConditionError(Code.TYPE_ERROR, f"'{name}' is a list; a condition cannot test a list")
    tests: list[UnaryTest] = []
    for alt in alts:
        if alt.op in ("missing", "present", "any"):
            tests.append(UnaryTest(alt.op))
        elif alt.op == "cmp":
            if alt.cmp in ("lt", "le", "gt", "ge") and type_ not in ("int", "float"):
                sym = {v: k for k, v in _OPS.items()}[alt.cmp]
                raise ConditionError(
                    Code.TYPE_ERROR, f"{describe_type(name, type_, values)}; '{sym}' compares numbers only"
                )
            tests.append(
                UnaryTest(alt.cmp, value=bind_value(alt.lits[0], name, type_, _closed(alt.cmp, values), params))
            )
        elif alt.op == "eq":
            tests.append(UnaryTest("eq", value=bind_value(alt.lits[0], name, type_, values, params)))
        elif alt.op == "range":
            if type_ not in ("int", "float"):
                raise ConditionError(
                    Code.TYPE_ERROR, f"{describe_type(name, type_, values)}; a range applies to numbers only"
                )
            lo = bind_value(alt.lits[0], name, type_, None, params)
            hi = bind_value(alt.lits[1], name, type_, None, params)
            lo_c, hi_c = alt.lo_closed, alt.hi_closed
            if lo > hi or (lo == hi and not (lo_c and hi_c)):
                text = f"{'[' if lo_c else '('}{_plain(lo)}..{_plain(hi)}{']' if hi_c else ')'}"
                raise ConditionError(Code.BAD_CONDITION, f"the range {text} on '{name}' is empty")
            tests.append(UnaryTest("range", lo=lo, hi=hi, lo_closed=lo_c, hi_closed=hi_c))
        else:  # in / not_in
            if alt.set_param is not None:
                param = params.get(alt.set_param.value)
                if param is None:
                    raise ConditionError(Code.UNKNOWN_PARAMETER, unknown_parameter_message(alt.set_param.value, params))
                items = list(param.value) if param.type == "list" else [param.value]
                typed = tuple(
                    coerce(v, name, type_, values, f"{_plain(v)} (in $param.{alt.set_param.value})") for v in items
                )
            else:
                typed = tuple(bind_value(lit, name, type_, values, params) for lit in alt.lits)
            if not typed:
                raise ConditionError(Code.BAD_CONDITION, f"an empty set for '{name}' matches nothing")
            tests.append(UnaryTest(alt.op, values=tuple(dict.fromkeys(typed))))
    return tuple(tests)


def _closed(op: str, values: Sequence[Any] | None) -> Sequence[Any] | None:
    # A threshold need not be one of the values a numeric output takes: "> 2" is fine for outputs 1 and 3.
    return None if op in ("lt", "le", "gt", "ge") else values


def unknown_parameter_message(name: str, params: Mapping[str, Parameter]) -> str:
    return f"unknown parameter '$param.{name}'{did_you_mean(name, list(params), prefix='$param.')}; declare it under parameters in pack.yaml"


def did_you_mean(word: str, choices: Sequence[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""
