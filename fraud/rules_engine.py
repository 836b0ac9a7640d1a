"""Rules as data: parse, check and compile rule expressions (issue 15).

The language is a small subset of CEL (the Common Expression Language), the
scalar form is evaluated by the `common-expression-language` engine (Rust
cel bindings), and the same syntax tree is translated into numpy column
operations for backtests. No user text is ever given to `eval`.

Grammar (CEL's precedence, lowest first)::

    expr    := or ("?" expr ":" expr)?
    or      := and ("||" and)*
    and     := rel ("&&" rel)*
    rel     := add (("<" | "<=" | ">" | ">=" | "==" | "!=") add)?
    add     := mul (("+" | "-") mul)*
    mul     := unary (("*" | "/") unary)*
    unary   := ("!" | "-") unary | primary
    primary := number | "true" | "false" | name | "(" expr ")"
             | subject "in" "list" "(" '"' list name '"' ")"

`subject in list("name")` is true when the payment's subject (`member`,
`device`, `location`, `phone_hash`, `node_pubkey`: `LIST_SUBJECTS`) is an
active entry of that allow, deny or watch list (`fraud.models_lists`). The
membership is computed before evaluation, the same way for both forms, and
each form reads it as a boolean fact.

Every number is a double (CEL does not mix int and double: `2 * x` with a
double `x` is an error there), so the parser writes the canonical CEL text
itself, every literal as a double and every operation in parentheses, and
every fact is given to CEL as a float. A rule's expression must give true or
false; names come from `NAMES` only (an unknown name is a compile error, not
a runtime one). Errors name the rule and the position (column, from 1) in
French: `RuleExpressionError`.

Why CEL through the Rust bindings (benchmarks/bench_rules.py, six rules, one
payment, on the 2-core dev machine): common-expression-language, the six
rules in one compiled program returning the list of answers, p50 7-12 µs,
p99 13 µs; rule-engine 43-48 / 82-166 µs; cel-python 1,400 / 6,100 µs; today's
lambdas 2-4 µs. CEL is a published, specified language (Google, used by
Kubernetes admission policies and Envoy), safe by design (no loops, no I/O,
terminates), and the Rust engine is maintained.

Semantics shared by both forms: IEEE doubles (division by zero gives inf,
0/0 NaN, every comparison with NaN is false except `!=`); `&&` and `||` on
booleans; `c ? a : b`. A member-context name (`fraud.features.CONTEXT`) may be
unknown (an unknown member, too short a history): every comparison that reads
an unknown one is false, `!=` included, as SQL's NULL. The canonical CEL text
guards such a comparison with the names' `known__<name>` facts (the engine
takes no NaN), the numpy form with their NaN masks. The property test (tests/fraud/test_rules_engine.py)
checks that the scalar (CEL) and vectorised (numpy) forms agree on random
payments.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fraud.features import CONTEXT, CONTEXT_DOCS, CONTEXT_KEY, FEATURES
from fraud.rules import DEFAULT_PARAMS, RULES_BY_ID

# The names a rule can read, with their meaning in French and English (the editor shows both).
NAMES: dict[str, dict] = {
    "amount_sats": {
        "fr": gettext_lazy("Montant du paiement, en sats."),
        "en": "The payment's amount, in sats.",
    },
    "time_since_last_sec": {
        "fr": gettext_lazy(
            "Secondes depuis le paiement ou la facture précédente du membre (30 jours au plus, "
            "30 jours s'il n'y en a pas)."
        ),
        "en": "Seconds since the member's previous payment or invoice (at most 30 days, 30 days if none).",
    },
    "invoices_last_min": {
        "fr": gettext_lazy("Factures du membre dans les 60 dernières secondes, celle-ci comprise."),
        "en": "The member's invoices in the last 60 seconds, this one included.",
    },
    "device_changes": {
        "fr": gettext_lazy("Paiements du membre des dernières 24 h faits depuis un appareil différent du précédent."),
        "en": "The member's payments of the last 24 h made from a device other than the previous one.",
    },
    "location_changes": {
        "fr": gettext_lazy("Paiements du membre des dernières 24 h faits depuis un lieu différent du précédent."),
        "en": "The member's payments of the last 24 h made from a location other than the previous one.",
    },
    "reporting_limit": {
        "fr": gettext_lazy("Seuil déclaratif en vigueur, en sats (réglage FRAUD_STRUCTURING_LIMIT_SATS)."),
        "en": "The reporting limit in force, in sats (setting FRAUD_STRUCTURING_LIMIT_SATS).",
    },
    # The member's context from stored history (fraud.member_context): unknown (NaN, so every comparison but
    # `!=` is false) for an unknown member or a baseline too short; read only when a published rule names it.
    **CONTEXT_DOCS,
}

# What a list holds, and the key of a check's row (or a stored payment's column) that carries it.
LIST_SUBJECTS: dict[str, dict] = {
    "member": {"key": "user_id", "fr": gettext_lazy("le membre (son identifiant)"), "en": "the member (their id)"},
    "device": {"key": "device_id", "fr": gettext_lazy("l'appareil du paiement"), "en": "the payment's device"},
    "location": {"key": "location", "fr": gettext_lazy("le lieu du paiement"), "en": "the payment's location"},
    "phone_hash": {
        "fr": gettext_lazy("le téléphone du membre (empreinte chiffrée, jamais en clair)"),
        "key": "phone_hash",
        "en": "the member's phone (keyed hash, never in clear)",
    },
    "node_pubkey": {
        "key": "node_pubkey",
        "fr": gettext_lazy("la clé publique du nœud Lightning"),
        "en": "the Lightning node's public key",
    },
}


def list_fact(subject: str, name: str) -> str:
    """The boolean fact that says `subject in list(name)` (CEL identifier; no rule can name it directly)."""
    return f"inlist__{subject}__{name}"


_CONTEXT_INDEX = {name: j for j, name in enumerate(CONTEXT)}

# Numbers written in a rule stay far from overflow (sats amounts and seconds are well below).
MAX_LITERAL = 1e15

EFFECT_WEIGHT = "weight"
EFFECT_HOLD = "hold"
EFFECT_REVIEW = "review"
EFFECT_ALLOW = "allow"
EFFECTS = (EFFECT_WEIGHT, EFFECT_HOLD, EFFECT_REVIEW, EFFECT_ALLOW)
# A direct outcome overrides the score's decision; among firing outcome rules, the first by priority decides.
OUTCOMES = (EFFECT_HOLD, EFFECT_REVIEW, EFFECT_ALLOW)


class RuleExpressionError(ValueError):
    """A rule that does not compile: which rule, where (column from 1) and why, in French."""

    def __init__(self, rule_id: str, position: int, reason: str):
        self.rule_id = rule_id
        self.position = position
        self.reason = reason
        super().__init__(
            _("Règle « %(rule)s », position %(position)s : %(reason)s")
            % {"rule": rule_id, "position": position, "reason": reason}
        )


class _Error(Exception):
    def __init__(self, position: int, reason: str):
        self.position = position
        self.reason = reason


# --- Tokens and syntax tree ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<str>\"[a-z0-9_]*\"|'[a-z0-9_]*')"
    r"|(?P<op>&&|\|\||<=|>=|==|!=|[<>!+\-*/()?:]))"
)


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression: kind ('num', 'bool', 'name', 'unary', 'bin', 'cond'), value, children."""

    kind: str
    value: object = None
    args: tuple = ()
    position: int = 0
    type: str = "num"  # 'num' or 'bool'


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            start = i + len(text[i:]) - len(text[i:].lstrip())
            raise _Error(start + 1, _("caractère inattendu « %(char)s »") % {"char": text[start]})
        kind = m.lastgroup
        start = m.start(kind)
        out.append((kind, m.group(kind), start + 1))
        i = m.end()
    out.append(("end", "", len(text) + 1))
    return out


class _Parser:
    REL = ("<", "<=", ">", ">=", "==", "!=")

    def __init__(self, text: str, lists: dict[str, str] | None = None):
        self.tokens = _tokens(text)
        self.i = 0
        self.lists = lists  # {list name: subject}; None: any list name is accepted (checked later)

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, op: str):
        kind, value, position = self.take()
        if value != op or kind != "op":
            raise self.unexpected((kind, value, position), expected=op)

    @staticmethod
    def unexpected(token, expected: str | None = None) -> _Error:
        kind, value, position = token
        if kind == "end":
            reason = _("expression incomplète")
            if expected:
                reason = _("« %(expected)s » manquant en fin d'expression") % {"expected": expected}
            return _Error(position, reason)
        if expected:
            return _Error(
                position,
                _("« %(expected)s » attendu au lieu de « %(token)s »") % {"expected": expected, "token": value},
            )
        return _Error(position, _("symbole inattendu « %(token)s »") % {"token": value})

    def parse(self) -> Node:
        node = self.expr()
        if self.peek()[0] != "end":
            raise self.unexpected(self.peek())
        return node

    def expr(self) -> Node:
        node = self.or_()
        if self.peek()[1] == "?" and self.peek()[0] == "op":
            position = self.take()[2]
            yes = self.expr()
            self.expect(":")
            no = self.expr()
            _require(node, "bool", _("la condition de « ? : » doit être vraie ou fausse"))
            if yes.type != no.type:
                raise _Error(position, _("les deux branches de « ? : » doivent être du même type"))
            return Node("cond", None, (node, yes, no), position, yes.type)
        return node

    def _chain(self, ops, sub, operand_type, result_type, message):
        node = sub()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            _kind, op, position = self.take()
            right = sub()
            _require(node, operand_type, message % {"op": op})
            _require(right, operand_type, message % {"op": op})
            node = Node("bin", op, (node, right), position, result_type)
        return node

    def or_(self) -> Node:
        return self._chain(("||",), self.and_, "bool", "bool", _("« %(op)s » relie des conditions vraies ou fausses"))

    def and_(self) -> Node:
        return self._chain(("&&",), self.rel, "bool", "bool", _("« %(op)s » relie des conditions vraies ou fausses"))

    def rel(self) -> Node:
        node = self.add()
        if self.peek()[0] == "op" and self.peek()[1] in self.REL:
            _kind, op, position = self.take()
            right = self.add()
            if op in ("==", "!="):
                if node.type != right.type:
                    raise _Error(position, _("« %(op)s » compare deux valeurs du même type") % {"op": op})
            else:
                _require(node, "num", _("« %(op)s » compare des nombres") % {"op": op})
                _require(right, "num", _("« %(op)s » compare des nombres") % {"op": op})
            node = Node("bin", op, (node, right), position, "bool")
            if self.peek()[0] == "op" and self.peek()[1] in self.REL:
                raise _Error(self.peek()[2], _("comparaisons enchaînées : reliez-les par « && »"))
        return node

    def add(self) -> Node:
        return self._chain(("+", "-"), self.mul, "num", "num", _("« %(op)s » calcule sur des nombres"))

    def mul(self) -> Node:
        node = self._chain(("*", "/"), self.unary, "num", "num", _("« %(op)s » calcule sur des nombres"))
        _check_divisions(node)
        return node

    def unary(self) -> Node:
        kind, value, position = self.peek()
        if kind == "op" and value in ("!", "-"):
            self.take()
            operand = self.unary()
            if value == "!":
                _require(operand, "bool", _("« ! » s'applique à une condition vraie ou fausse"))
                return Node("unary", "!", (operand,), position, "bool")
            _require(operand, "num", _("« - » s'applique à un nombre"))
            return Node("unary", "-", (operand,), position, "num")
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        kind, value, position = token
        if kind == "num":
            number = float(value)
            if not math.isfinite(number) or number > MAX_LITERAL:
                raise _Error(position, _("nombre trop grand « %(token)s » (10^15 au plus)") % {"token": value})
            return Node("num", number, (), position, "num")
        if kind == "name":
            if value in ("true", "false"):
                return Node("bool", value == "true", (), position, "bool")
            if value in LIST_SUBJECTS:
                return self.in_list(value, position)
            if value not in NAMES:
                raise _Error(position, _("nom inconnu « %(name)s »") % {"name": value})
            return Node("name", value, (), position, "num")
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise self.unexpected(token)


def _in_list(self, subject: str, position: int) -> Node:
    for word in ("in", "list"):
        token = self.take()
        if token[0] != "name" or token[1] != word:
            raise self.unexpected(token, expected=word)
    self.expect("(")
    kind, value, where = self.take()
    if kind != "str":
        raise _Error(where, _('nom de liste attendu entre guillemets, par exemple "appareils_bloques"'))
    name = value[1:-1]
    self.expect(")")
    if self.lists is not None:
        if name not in self.lists:
            raise _Error(where, _("liste inconnue « %(name)s »") % {"name": name})
        if self.lists[name] != subject:
            raise _Error(
                position,
                _("la liste « %(name)s » contient des « %(kind)s », pas des « %(subject)s »")
                % {"name": name, "kind": self.lists[name], "subject": subject},
            )
    return Node("inlist", (subject, name), (), position, "bool")


_Parser.in_list = _in_list


def _constant(node: Node) -> float | None:
    if node.kind == "num":
        return node.value
    if node.kind == "unary" and node.value == "-" and node.args[0].kind == "num":
        return -node.args[0].value
    return None


def _check_divisions(node: Node) -> None:
    # A divisor is a non-zero number written in the rule: no division by zero, so no NaN (CEL refuses to
    # order NaN while numpy says false). Write `amount_sats > 10 * x` rather than `amount_sats / x > 10`.
    while node.kind == "bin" and node.value in ("*", "/"):
        if node.value == "/":
            divisor = _constant(node.args[1])
            if divisor is None or divisor == 0:
                raise _Error(node.position, _("on ne divise que par un nombre écrit dans la règle, non nul"))
        node = node.args[0]


def _require(node: Node, type_: str, reason: str) -> None:
    if node.type != type_:
        raise _Error(node.position, reason)


def parse(text: str, *, rule_id: str = "?", lists: dict[str, str] | None = None) -> Node:
    """Parse and type-check one rule's expression (it must give true or false); raise `RuleExpressionError`.

    `lists` ({name: subject}) are the lists a rule may name; None accepts any name (the engine's own tests).
    """
    try:
        node = _Parser(text, lists).parse()
        if node.type != "bool":
            raise _Error(1, _("la règle doit donner vrai ou faux (une comparaison, par exemple)"))
    except _Error as exc:
        raise RuleExpressionError(rule_id, exc.position, exc.reason) from None
    return node


# --- The two forms ------------------------------------------------------------------------------


_COMPARISONS = frozenset(("<", "<=", ">", ">=", "==", "!="))


def known_fact(name: str) -> str:
    """The boolean fact that says a member-context name is known (CEL identifier; no rule can name it)."""
    return f"known__{name}"


def _context_read(node: Node) -> list[str]:
    """The member-context names a comparison reads (its guard), in CONTEXT's order."""
    used = names_used(node)
    return [name for name in CONTEXT if name in used]


def to_cel(node: Node) -> str:
    """Return the canonical CEL text of a tree: literals as doubles, every operation in parentheses."""
    if node.kind == "num":
        return repr(float(node.value))
    if node.kind == "bool":
        return "true" if node.value else "false"
    if node.kind == "name":
        return node.value
    if node.kind == "inlist":
        return list_fact(*node.value)
    if node.kind == "unary":
        return f"({node.value}{to_cel(node.args[0])})"
    if node.kind == "bin":
        text = f"({to_cel(node.args[0])} {node.value} {to_cel(node.args[1])})"
        guard = _context_read(node) if node.value in _COMPARISONS else []
        return f"({' && '.join(known_fact(name) for name in guard)} && {text})" if guard else text
    cond, yes, no = node.args
    return f"({to_cel(cond)} ? {to_cel(yes)} : {to_cel(no)})"


_NP_BIN = {
    "&&": np.logical_and,
    "||": np.logical_or,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
}


def to_numpy(node: Node, columns: dict):
    """Evaluate a tree over columns ({name: float64 array or scalar}) with numpy: the vectorised form."""
    if node.kind in ("num", "bool"):
        return node.value
    if node.kind == "name":
        return columns[node.value]
    if node.kind == "inlist":
        return columns[list_fact(*node.value)]
    if node.kind == "unary":
        value = to_numpy(node.args[0], columns)
        return np.logical_not(value) if node.value == "!" else np.negative(value)
    if node.kind == "bin":
        out = _NP_BIN[node.value](to_numpy(node.args[0], columns), to_numpy(node.args[1], columns))
        for name in _context_read(node) if node.value in _COMPARISONS else ():
            out = np.logical_and(out, ~np.isnan(columns[name]))
        return out
    cond, yes, no = node.args
    return np.where(to_numpy(cond, columns), to_numpy(yes, columns), to_numpy(no, columns))


def names_used(node: Node) -> set[str]:
    if node.kind == "name":
        return {node.value}
    return set().union(*(names_used(a) for a in node.args)) if node.args else set()


def lists_used(node: Node) -> set[tuple[str, str]]:
    """The (subject, list name) pairs an expression reads."""
    if node.kind == "inlist":
        return {node.value}
    return set().union(*(lists_used(a) for a in node.args)) if node.args else set()


# --- Reasons: sentences with facts, formatted safely ---------------------------------------------

_SPEC = re.compile(r"^[,_]?(?:\.\d{1,2})?[fg%]?$")  # number formats only: every fact is a float


def check_template(text: str, *, rule_id: str) -> None:
    """Refuse a reason sentence whose {fields} are not plain known names with a number format."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise RuleExpressionError(rule_id, 1, _("phrase de motif invalide (%(error)s)") % {"error": exc}) from None
    for _literal, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in NAMES or conversion or not _SPEC.match(spec or ""):
            raise RuleExpressionError(
                rule_id,
                text.find("{" + field_name) + 1,
                _("champ « %(field)s » inconnu dans la phrase du motif") % {"field": field_name},
            )


# --- Compiled rules and rulesets ---------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRule:
    """One enabled rule, checked and compiled: its id, sentences, effect, priority and syntax tree."""

    id: str
    name_fr: str
    name_en: str
    fr: str
    en: str
    expression: str
    effect: str
    weight: float
    priority: int
    tree: Node
    cel_source: str

    @property
    def kind(self) -> str:
        return "rule"

    def reason(self, facts: dict) -> dict:
        """The reason entry of the check's answer (the format of today's `fraud.detectors._rule_reason`)."""
        out = {
            "id": self.id,
            "kind": "rule",
            "weight": self.weight if self.effect == EFFECT_WEIGHT else 0.0,
            "fr": self.fr.format(**facts),
            "en": self.en.format(**facts),
        }
        if self.effect != EFFECT_WEIGHT:
            out["outcome"] = self.effect
        return out


def compile_rule(spec: dict, *, lists: dict[str, str] | None = None) -> CompiledRule:
    """Check and compile one rule spec (the fields of `fraud.models.Rule`); raise `RuleExpressionError`."""
    rule_id = spec["rule_id"]
    effect = spec.get("effect", EFFECT_WEIGHT)
    if effect not in EFFECTS:
        raise RuleExpressionError(rule_id, 1, _("effet inconnu « %(effect)s »") % {"effect": effect})
    weight = float(spec.get("weight") or 0.0)
    if effect == EFFECT_WEIGHT and not 0.0 <= weight <= 1.0:
        raise RuleExpressionError(rule_id, 1, _("le poids doit être compris entre 0 et 1"))
    tree = parse(spec["expression"], rule_id=rule_id, lists=lists)
    for key in ("reason_fr", "reason_en"):
        check_template(spec.get(key, ""), rule_id=rule_id)
    source = to_cel(tree)
    import cel  # the engine (requirements.txt); imported here so the parser stays usable without it

    try:
        cel.compile(source)
    except Exception as exc:  # the canonical text always parses; this guards the engine's own checks
        raise RuleExpressionError(rule_id, 1, _("refusée par le moteur CEL : %(error)s") % {"error": exc}) from None
    return CompiledRule(
        id=rule_id,
        name_fr=spec.get("name_fr", ""),
        name_en=spec.get("name_en", ""),
        fr=spec.get("reason_fr", ""),
        en=spec.get("reason_en", ""),
        expression=spec["expression"],
        effect=effect,
        weight=weight if effect == EFFECT_WEIGHT else 0.0,
        priority=int(spec.get("priority", 0)),
        tree=tree,
        cel_source=source,
    )


@dataclass
class CompiledRuleset:
    """The enabled rules of one version, in priority order, compiled into one CEL program."""

    version: str
    rules: tuple[CompiledRule, ...]
    names: tuple[str, ...] = ()
    program: object = field(default=None, repr=False)
    # (subject, list name) pairs the rules read, and each list's active values (set by the serving cache).
    list_refs: tuple[tuple[str, str], ...] = ()
    list_values: dict[str, frozenset] = field(default_factory=dict)
    # {member reference: rule ids snoozed for that member} (set by the serving cache; fraud.models_lists).
    suppressed: dict[str, frozenset] = field(default_factory=dict)

    @property
    def context_names(self) -> tuple[str, ...]:
        """The member-context names its rules read (`fraud.member_context`): the check then computes them."""
        return tuple(name for name in CONTEXT if name in self.names)

    def facts(self, features: dict, reporting_limit: float, subjects: dict | None = None, context=None) -> dict:
        """One payment's facts: its features, the limit, its list memberships and the context names read.

        `context`: the member's `CONTEXT` values (by default the row's
        `CONTEXT_KEY`; unknown, NaN, when absent).
        """
        out = {name: float(features[name]) for name in FEATURES}
        out["reporting_limit"] = float(reporting_limit)
        if self.list_refs:
            out.update(self.memberships(subjects if subjects is not None else features))
        if self.context_names:
            out.update(self.context_facts(features.get(CONTEXT_KEY) if context is None else context))
        return out

    def context_values(self, values) -> dict[str, float]:
        """The context names its rules read, from one member's `CONTEXT` values (None: all unknown, NaN)."""
        if values is None:
            return dict.fromkeys(self.context_names, math.nan)
        return {name: float(values[_CONTEXT_INDEX[name]]) for name in self.context_names}

    def context_facts(self, values) -> dict:
        """`context_values` as the engine takes them: each value (0 when unknown) and its `known__` fact."""
        out = {}
        for name, value in self.context_values(values).items():
            known = not math.isnan(value)
            out[name], out[known_fact(name)] = (value if known else 0.0), known
        return out

    def context_columns(self, context: np.ndarray) -> dict[str, np.ndarray]:
        """The context names its rules read, as columns of a (n, len(CONTEXT)) array."""
        return {name: context[:, _CONTEXT_INDEX[name]] for name in self.context_names}

    def memberships(self, row: dict) -> dict[str, bool]:
        """The list facts of one payment (its subjects read from the row's keys: `LIST_SUBJECTS`)."""
        out = {}
        for subject, name in self.list_refs:
            value = row.get(LIST_SUBJECTS[subject]["key"])
            out[list_fact(subject, name)] = value is not None and str(value) in self.list_values.get(name, ())
        return out

    def membership_columns(self, rows: list[dict] | None, n: int, subject_columns: dict | None = None) -> dict:
        """The list facts of many payments as bool columns (from rows, or from columns {row key: array})."""
        out = {}
        for subject, name in self.list_refs:
            key = LIST_SUBJECTS[subject]["key"]
            values = self.list_values.get(name, frozenset())
            if subject_columns is not None and key in subject_columns:
                column = np.asarray(subject_columns[key], dtype=object).astype(str)
                out[list_fact(subject, name)] = np.isin(column, list(values)) if values else np.zeros(n, dtype=bool)
            elif rows is not None:
                out[list_fact(subject, name)] = np.fromiter(
                    ((row.get(key) is not None and str(row.get(key)) in values) for row in rows), dtype=bool, count=n
                )
            else:
                out[list_fact(subject, name)] = np.zeros(n, dtype=bool)
        return out

    def fired(self, facts: dict) -> list[bool]:
        """Scalar form: one payment's facts (floats, every name in `NAMES`) -> one bool per rule."""
        if not self.rules:
            return []
        return self.program.execute(facts)

    def fire_columns(self, columns: dict, n: int) -> dict[str, np.ndarray]:
        """Vectorised form: {rule id: bool array (n,)} over columns of facts."""
        out = {}
        with np.errstate(all="ignore"):
            for rule in self.rules:
                out[rule.id] = np.broadcast_to(np.asarray(to_numpy(rule.tree, columns), dtype=bool), (n,))
        return out


def compile_ruleset(
    specs: list[dict], *, version: str = "", lists: dict[str, str] | None = None, list_values: dict | None = None
) -> CompiledRuleset:
    """Compile a version's rules (disabled ones left out), ordered by priority then id, into one program.

    `lists`: {name: subject} of the lists that exist (None: unchecked); `list_values`: {name: active values}.
    """
    seen = set()
    compiled = []
    for spec in specs:
        if spec["rule_id"] in seen:
            raise RuleExpressionError(spec["rule_id"], 1, _("identifiant de règle en double"))
        seen.add(spec["rule_id"])
        rule = compile_rule(spec, lists=lists)
        if spec.get("enabled", True):
            compiled.append(rule)
    compiled.sort(key=lambda r: (r.priority, r.id))
    program = None
    if compiled:
        import cel

        program = cel.compile("[" + ", ".join(r.cel_source for r in compiled) + "]")
    names = tuple(sorted(set().union(*(names_used(r.tree) for r in compiled)))) if compiled else ()
    refs = tuple(sorted(set().union(*(lists_used(r.tree) for r in compiled)))) if compiled else ()
    values = {name: frozenset(v) for name, v in (list_values or {}).items() if any(name == n for _s, n in refs)}
    return CompiledRuleset(
        version=version, rules=tuple(compiled), names=names, program=program, list_refs=refs, list_values=values
    )


def _num(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def default_rule_specs(params: dict | None = None) -> list[dict]:
    """Today's six rules (`fraud.rules`) as rule specs, with `DEFAULT_PARAMS` (or the given ones): ruleset v1."""
    p = {**DEFAULT_PARAMS, **(params or {})}
    near = f"amount_sats >= {_num(p['structuring_floor_ratio'])} * reporting_limit && amount_sats < reporting_limit"
    rows = [
        (
            "invoice_burst",
            "Rafale de factures",
            "Invoice burst",
            f"invoices_last_min >= {_num(p['burst_invoices'])}",
        ),
        (
            "new_device_location_unusual_amount",
            "Nouvel appareil, nouveau lieu, montant inhabituel",
            "New device, new location, unusual amount",
            f"device_changes >= 1 && location_changes >= 1 && amount_sats >= {_num(p['unusual_amount_sats'])}",
        ),
        (
            "rapid_repeat",
            "Paiements répétés",
            "Rapid repeat",
            f"time_since_last_sec < {_num(p['rapid_repeat_sec'])} && amount_sats >= {_num(p['rapid_repeat_min_sats'])}",
        ),
        (
            "structuring",
            "Fractionnement",
            "Structuring",
            f"{near} && time_since_last_sec < {_num(p['structuring_window_sec'])}",
        ),
        (
            "near_reporting_limit",
            "Montant proche du seuil déclaratif",
            "Amount near the reporting limit",
            f"{near} && time_since_last_sec >= {_num(p['structuring_window_sec'])}",
        ),
        (
            "very_large_amount",
            "Montant très élevé",
            "Very large amount",
            f"amount_sats >= {_num(p['very_large_amount_sats'])}",
        ),
    ]
    return [
        {
            "rule_id": rule_id,
            "name_fr": name_fr,
            "name_en": name_en,
            "reason_fr": RULES_BY_ID[rule_id].fr,
            "reason_en": RULES_BY_ID[rule_id].en,
            "expression": expression,
            "effect": EFFECT_WEIGHT,
            "weight": RULES_BY_ID[rule_id].weight,
            "priority": 10 * (i + 1),
            "enabled": True,
        }
        for i, (rule_id, name_fr, name_en, expression) in enumerate(rows)
    ]
