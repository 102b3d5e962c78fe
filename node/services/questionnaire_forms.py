"""What a questionnaire's questions accept, without the database: the definitions (options, rows,
settings, display conditions, a quiz's correct value) and the answers (their shapes and limits),
the display conditions evaluated in order, a quiz's feedback and the text of an answer.

Every refusal is an InvalidInput naming the question. Value shapes are the ``Answer`` docstring's
(node/models/questionnaires.py). The ``matches`` condition is a regular expression written by
the organisation and run on what participants type: it is refused unless it is short and cannot
backtrack badly (SECURITY.md rule 29), and it reads at most MATCH_SUBJECT characters.
"""

from __future__ import annotations

import re
import re._parser as regex_parser  # the stdlib's own parser: what a pattern does, not a guess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from node.errors import InvalidInput
from node.models.questionnaires import CONDITION_OPS, QUESTION_KINDS, Question
from node.services.i18n import pick, text_map

CHOICE_KINDS = ("single", "multiple", "ranking")
MATRIX_KINDS = ("matrix_single", "matrix_multiple")
TEXT_KINDS = ("short_text", "long_text")
# Kinds a quiz can mark (their ``correct`` value is compared with the answer).
QUIZ_KINDS = ("short_text", "single", "multiple", "ranking", "scale")
# What "equals" / "not_equals" compare with: an option key, a scale value or a text.
COMPARABLE_KINDS = ("short_text", "long_text", "single", "multiple", "ranking", "scale")

MAX_QUESTIONS = 200
MAX_OPTIONS = 50  # options, ranking items, matrix columns
MAX_ROWS = 50  # matrix rows
MAX_CONDITIONS = 5
MAX_LABEL = 300
MAX_TITLE = 500
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Text answers: the organisation chooses max_length up to these; the defaults when it does not.
TEXT_LIMITS = {"short_text": (300, 1_000), "long_text": (5_000, 20_000)}  # (default, ceiling)
SCALE_BOUNDS = (-100, 100)
MAX_SCALE_STEPS = 21  # 0..20 at most: a rating, an agreement scale, a 0-10 recommendation
# Files: images are re-encoded (node/services/questionnaire_files.py), documents kept as sent.
FILE_GROUPS = {"images": ("jpg", "png", "webp"), "documents": ("pdf", "odt", "ods", "docx", "xlsx")}
FILE_SIZE = (5 * 1024 * 1024, 20 * 1024 * 1024)  # (default, ceiling) in bytes
MAX_PATTERN = 100
MAX_PATTERN_REPEATS = 2
MATCH_SUBJECT = 200  # "matches" reads at most this many characters of an answer
MAX_PATTERNS = 20  # "matches" conditions in one questionnaire

SETTINGS = {  # the settings each kind accepts
    "short_text": ("max_length",),
    "long_text": ("max_length",),
    "single": (),
    "multiple": ("min_choices", "max_choices"),
    "ranking": ("min_choices", "max_choices"),
    "scale": ("min", "max", "min_label", "max_label"),
    "matrix_single": (),
    "matrix_multiple": ("max_choices",),
    "file": ("types", "max_bytes"),
    "block": (),
}


def name_of(question: Question, lang: str = "fr") -> str:
    """How a refusal names a question: its number and the start of its title."""
    title = pick(question.title, lang)
    title = title if len(title) <= 60 else title[:57] + "..."
    number = (question.position or 0) + 1
    return f'question {number} ("{title}")' if title else f"question {number}"


def texts(value, *, required: bool = False, what: str = "text", max_length: int = 20_000) -> dict[str, str]:
    """A text map {language: text} (or one French text), its shape checked before i18n.text_map
    reads it: a list or a number where a text belongs is refused, never an AttributeError."""
    if value is not None and not isinstance(value, (str, Mapping)):
        raise InvalidInput(f"{what} is a text or a map of texts by language")
    if isinstance(value, Mapping) and any(not isinstance(k, str) or not isinstance(v, (str, type(None)))
                                          for k, v in value.items()):
        raise InvalidInput(f"{what}: each language has one text")
    return text_map(value, required=required, what=what, max_length=max_length)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- definitions --------------------------------------------------------------------------------

def items(value, what: str) -> list[dict]:
    """Options or rows: [{"key", "label": {lang: text}}]; a plain string is its own label (keys are
    then numbered). Keys are unique, short, and made of letters, digits, - and _."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput(f"{what} must be a list")
    out, seen = [], set()
    for i, item in enumerate(value, 1):
        if isinstance(item, str):
            item = {"key": str(i), "label": item}
        if not isinstance(item, Mapping) or set(item) - {"key", "label"}:
            raise InvalidInput(f"each of the {what} is {{key, label}}")
        key = item.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise InvalidInput(f"{what}: a key is 1-32 letters, digits, - or _")
        if key in seen:
            raise InvalidInput(f"{what}: the key {key!r} is used twice")
        seen.add(key)
        label = item.get("label")
        if not isinstance(label, (str, Mapping)):
            raise InvalidInput(f"{what}: each label is a text")
        out.append({"key": key, "label": texts(label, required=True, what=f"the label of {key!r}",
                                                  max_length=MAX_LABEL)})
    return out


def _int_setting(settings: Mapping, name: str, low: int, high: int) -> int | None:
    value = settings.get(name)
    if value is None:
        return None
    if not _is_int(value) or not low <= value <= high:
        raise InvalidInput(f"the setting {name} must be a whole number from {low} to {high}")
    return value


def check_settings(kind: str, settings, options: list[dict], rows: list[dict]) -> dict:
    """The settings of a question of ``kind``, checked (unknown names and wrong types refused)."""
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise InvalidInput("settings must be a mapping")
    unknown = set(settings) - set(SETTINGS[kind])
    if unknown:
        raise InvalidInput(f"unknown settings for a {kind} question: {', '.join(sorted(map(str, unknown)))}")
    out: dict = {}
    if kind in TEXT_KINDS:
        default, ceiling = TEXT_LIMITS[kind]
        out["max_length"] = _int_setting(settings, "max_length", 1, ceiling) or default
    elif kind in ("multiple", "ranking", "matrix_multiple"):
        n = len(options)
        low = 0 if kind == "matrix_multiple" else _int_setting(settings, "min_choices", 0, n) or 0
        high = _int_setting(settings, "max_choices", 1, n) or n
        if low > high:
            raise InvalidInput("min_choices cannot exceed max_choices")
        if kind != "matrix_multiple":
            out["min_choices"] = low
        out["max_choices"] = high
    elif kind == "scale":
        low = _int_setting(settings, "min", *SCALE_BOUNDS)
        high = _int_setting(settings, "max", *SCALE_BOUNDS)
        low, high = (1 if low is None else low), (5 if high is None else high)
        if not 2 <= high - low + 1 <= MAX_SCALE_STEPS:
            raise InvalidInput(f"a scale has 2 to {MAX_SCALE_STEPS} steps (min below max)")
        out.update(min=low, max=high)
        for name in ("min_label", "max_label"):
            if settings.get(name) is not None:
                out[name] = texts(settings[name], what=name, max_length=MAX_LABEL)
    elif kind == "file":
        types = settings.get("types", ["images"])
        if isinstance(types, str) or not isinstance(types, Sequence) or not types or \
                any(t not in FILE_GROUPS for t in types):
            raise InvalidInput(f"file types are a list of: {', '.join(FILE_GROUPS)}")
        out["types"] = sorted(set(types))
        out["max_bytes"] = _int_setting(settings, "max_bytes", 1024, FILE_SIZE[1]) or FILE_SIZE[0]
    return out


def check_pattern(pattern) -> str:
    """A "matches" pattern: at most MAX_PATTERN characters, no back-reference, at most
    MAX_PATTERN_REPEATS repetitions of variable length (``\\d{5}`` is fixed and free), each of a
    single character or class (``\\d+``, ``[a-z]*``) — so matching is at worst cubic in the
    MATCH_SUBJECT characters it reads (measured: under 40 ms for the worst, ``a*?a*?b``)."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidInput("a pattern is a non-empty text")
    if len(pattern) > MAX_PATTERN:
        raise InvalidInput(f"a pattern is limited to {MAX_PATTERN} characters")
    try:
        parsed = regex_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise InvalidInput(f"the pattern is not a valid regular expression: {exc}") from None
    repeats = _repeats(parsed)
    if repeats > MAX_PATTERN_REPEATS:
        raise InvalidInput(f"a pattern may repeat at most {MAX_PATTERN_REPEATS} times")
    return pattern


_SINGLE = {regex_parser.LITERAL, regex_parser.NOT_LITERAL, regex_parser.ANY, regex_parser.IN,
           regex_parser.CATEGORY}
_REPEATS = {regex_parser.MAX_REPEAT, regex_parser.MIN_REPEAT, regex_parser.POSSESSIVE_REPEAT}
_REFUSED = {regex_parser.GROUPREF, regex_parser.GROUPREF_EXISTS}


def _repeats(parsed) -> int:
    """How many repetitions ``parsed`` holds; InvalidInput for what may backtrack without bound."""
    count = 0
    for op, arg in parsed:
        if op in _REFUSED:
            raise InvalidInput("a pattern cannot refer back to a group")
        if op in _REPEATS:
            low, high, body = arg
            if high > 1:
                if len(body) != 1 or body[0][0] not in _SINGLE:
                    raise InvalidInput("in a pattern, only a single character or class may repeat")
                count += low != high
            continue
        for sub in _subpatterns(op, arg):
            count += _repeats(sub)
    return count


def _subpatterns(op, arg) -> list:
    if op == regex_parser.SUBPATTERN:
        return [arg[-1]]
    if op == regex_parser.BRANCH:
        return list(arg[1])
    if op in (regex_parser.ASSERT, regex_parser.ASSERT_NOT):
        return [arg[1]]
    if op == regex_parser.ATOMIC_GROUP:
        return [arg]
    return []


def check_conditions(conditions, earlier: Mapping[int, Question]) -> list[dict]:
    """Display conditions: each names an ``earlier`` question (evaluated in order, so no cycle)."""
    if conditions is None:
        return []
    if isinstance(conditions, (str, bytes, Mapping)) or not isinstance(conditions, Iterable):
        raise InvalidInput("conditions must be a list")
    conditions = list(conditions)
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInput(f"a question has at most {MAX_CONDITIONS} conditions")
    out = []
    for condition in conditions:
        if not isinstance(condition, Mapping) or set(condition) - {"question", "op", "value"}:
            raise InvalidInput("a condition is {question, op, value}")
        op, target_id = condition.get("op"), condition.get("question")
        if op not in CONDITION_OPS:
            raise InvalidInput(f"a condition's op is one of {', '.join(CONDITION_OPS)}")
        if not _is_int(target_id) or target_id not in earlier:
            raise InvalidInput("a condition names an earlier question of the same questionnaire")
        target = earlier[target_id]
        if target.kind == "block":
            raise InvalidInput("a condition cannot name a title block")
        entry = {"question": target_id, "op": op}
        if op in ("equals", "not_equals"):
            entry["value"] = _comparable(target, condition.get("value"))
        elif op == "matches":
            if target.kind not in TEXT_KINDS:
                raise InvalidInput("a pattern condition names a text question")
            entry["value"] = check_pattern(condition.get("value"))
        elif condition.get("value") is not None:
            raise InvalidInput(f"an {op} condition has no value")
        out.append(entry)
    return out


def _comparable(target: Question, value):
    if target.kind not in COMPARABLE_KINDS:
        raise InvalidInput(f"{name_of(target)} cannot be compared with a value")
    if target.kind in CHOICE_KINDS:
        if value not in {o["key"] for o in target.options}:
            raise InvalidInput(f"{name_of(target)} has no option {value!r}")
    elif target.kind == "scale":
        if not _is_int(value) or not target.settings["min"] <= value <= target.settings["max"]:
            raise InvalidInput(f"{name_of(target)}: compare with a value of the scale")
    elif not isinstance(value, str) or not value or len(value) > MAX_LABEL:
        raise InvalidInput(f"{name_of(target)}: compare with a text of at most {MAX_LABEL} characters")
    return value


def define(question: Question, earlier: Mapping[int, Question], *, kind, title, description,
            required, options, rows, settings, conditions, correct, explanation) -> None:
    """Fill ``question`` from a definition, every part checked (InvalidInput otherwise);
    ``earlier``: the questions before it, which its conditions may name."""
    if kind not in QUESTION_KINDS:
        raise InvalidInput(f"the kind of a question is one of {', '.join(QUESTION_KINDS)}")
    title_map = texts(title, required=kind != "block", what="the question's title",
                         max_length=MAX_TITLE)
    description_map = texts(description, what="the question's description")
    if kind == "block" and not (title_map or description_map):
        raise InvalidInput("a block has a title or a description")
    options = items(options, "options")
    rows = items(rows, "rows")
    wants_options = kind in CHOICE_KINDS or kind in MATRIX_KINDS
    if wants_options and not 1 <= len(options) <= MAX_OPTIONS:
        raise InvalidInput(f"a {kind} question has 1 to {MAX_OPTIONS} options")
    if not wants_options and options:
        raise InvalidInput(f"a {kind} question has no options")
    if kind in MATRIX_KINDS and not 1 <= len(rows) <= MAX_ROWS:
        raise InvalidInput(f"a matrix has 1 to {MAX_ROWS} rows")
    if kind not in MATRIX_KINDS and rows:
        raise InvalidInput(f"a {kind} question has no rows")
    question.kind, question.title, question.description = kind, title_map, description_map
    question.required = bool(required) and kind != "block"
    question.options, question.rows = options, rows
    question.settings = check_settings(kind, settings, options, rows)
    question.conditions = check_conditions(conditions, earlier)
    question.correct = check_correct(question, correct)
    question.explanation = texts(explanation, what="the explanation")


# -- answers ------------------------------------------------------------------------------------

def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _keys(question: Question, value, lang: str) -> list[str]:
    known = {o["key"] for o in question.options}
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{name_of(question, lang)}: choose from the list")
    if any(not isinstance(v, str) or v not in known for v in value):
        raise InvalidInput(f"{name_of(question, lang)}: unknown option")
    if len(set(value)) != len(value):
        raise InvalidInput(f"{name_of(question, lang)}: an option is given twice")
    return list(value)


def check_value(question: Question, value, lang: str = "fr"):
    """The answer ``value`` to ``question``, normalised (scale values as int, lists of keys
    in the options' order for multiple choices), or InvalidInput naming the question. Files are
    checked by node/services/questionnaire_files.py: here their value is refused."""
    name = name_of(question, lang)
    kind, settings = question.kind, question.settings or {}
    if kind in ("block", "file"):
        raise InvalidInput(f"{name} takes no typed answer")
    if kind in TEXT_KINDS:
        if not isinstance(value, str):
            raise InvalidInput(f"{name}: the answer is a text")
        value = value.strip()
        limit = settings.get("max_length", TEXT_LIMITS[kind][0])
        if len(value) > limit:
            raise InvalidInput(f"{name}: the answer is limited to {limit} characters")
        if "\x00" in value:
            raise InvalidInput(f"{name}: the answer contains a NUL character")
        return value
    if kind == "single":
        if not isinstance(value, str) or value not in {o["key"] for o in question.options}:
            raise InvalidInput(f"{name}: unknown option")
        return value
    if kind in ("multiple", "ranking"):
        keys = _keys(question, value, lang)
        low, high = settings.get("min_choices", 0), settings.get("max_choices", len(question.options))
        if not low <= len(keys) <= high:
            raise InvalidInput(f"{name}: choose from {low} to {high} options")
        if kind == "multiple":
            order = [o["key"] for o in question.options]
            keys.sort(key=order.index)
        return keys
    if kind == "scale":
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,4}", value.strip()):
            value = int(value)
        if not _is_int(value) or not settings.get("min", 1) <= value <= settings.get("max", 5):
            raise InvalidInput(f"{name}: choose a value from {settings.get('min', 1)} to {settings.get('max', 5)}")
        return value
    if kind in MATRIX_KINDS:
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{name}: the answer is one choice per row")
        rows = [r["key"] for r in question.rows]
        out = {}
        for row, chosen in value.items():
            if row not in rows:
                raise InvalidInput(f"{name}: unknown row {str(row)[:32]!r}")
            if kind == "matrix_single" and isinstance(chosen, str):
                chosen = [chosen]
            if is_empty(chosen):
                continue
            keys = _keys(question, chosen, lang)
            if kind == "matrix_single" and len(keys) != 1:
                raise InvalidInput(f"{name}: choose one column per row")
            if len(keys) > settings.get("max_choices", len(question.options)):
                raise InvalidInput(f"{name}: too many choices in a row")
            out[row] = keys
        if question.required and set(out) != set(rows):
            raise InvalidInput(f"{name}: answer every row")
        return {row: out[row] for row in rows if row in out}
    raise InvalidInput(f"{name}: unknown kind of question")  # pragma: no cover (kinds are checked)


def check_correct(question: Question, correct):
    """A quiz's correct value for ``question`` (shaped as an answer), None for no quiz mark."""
    if correct is None:
        return None
    if question.kind not in QUIZ_KINDS:
        raise InvalidInput(f"a {question.kind} question cannot have a correct answer")
    value = check_value(question, correct)
    if is_empty(value):
        raise InvalidInput("the correct answer cannot be empty")
    return value


# -- display conditions -------------------------------------------------------------------------

def _holds(condition: Mapping, value) -> bool:
    op = condition["op"]
    if op == "answered":
        return not is_empty(value)
    if op == "not_answered":
        return is_empty(value)
    if is_empty(value):
        return op == "not_equals"
    if op == "matches":
        if not isinstance(value, str):
            return False
        try:
            return re.search(condition["value"], value[:MATCH_SUBJECT]) is not None
        except (re.error, TypeError):  # a stored pattern that no longer compiles shows nothing
            return False
    expected = condition.get("value")
    if _is_int(expected) and isinstance(value, str) and re.fullmatch(r"-?\d{1,4}", value.strip()):
        value = int(value)  # a scale's value as a form sends it
    if isinstance(value, list):
        same = expected in value
    elif isinstance(value, str) and isinstance(expected, str):
        same = value.strip().casefold() == expected.strip().casefold()
    else:
        same = value == expected
    return same if op == "equals" else not same


def visible(questions: Sequence[Question], values: Mapping[int, object]) -> list[Question]:
    """The questions shown for ``values`` (pure, deterministic): in order, a question is shown
    when all its conditions hold; a condition on a hidden question sees it unanswered."""
    shown: list[Question] = []
    seen: dict[int, object] = {}
    for question in sorted(questions, key=lambda q: (q.position, q.id or 0)):
        if all(_holds(c, seen.get(c.get("question"))) for c in question.conditions or ()):
            shown.append(question)
            seen[question.id] = values.get(question.id)
    return shown


# -- quiz ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Feedback:
    """A quiz question after submitting: the answer, the correct value and the explanation."""

    question: Question
    value: object
    correct: object
    is_correct: bool
    explanation: dict


def is_correct(question: Question, value) -> bool:
    expected = question.correct
    if expected is None or is_empty(value):
        return False
    if question.kind == "short_text":
        return isinstance(value, str) and value.strip().casefold() == str(expected).strip().casefold()
    if question.kind == "multiple":
        return isinstance(value, list) and set(value) == set(expected)
    return value == expected


def feedback(questions: Sequence[Question], values: Mapping[int, object]) -> list[Feedback]:
    """The quiz marks of the shown questions that have a correct value, in order."""
    return [Feedback(q, values.get(q.id), q.correct, is_correct(q, values.get(q.id)), q.explanation or {})
            for q in visible(questions, values) if q.correct is not None]


# -- text ---------------------------------------------------------------------------------------

def labels(items_: Iterable[Mapping], lang: str) -> dict[str, str]:
    return {item["key"]: pick(item.get("label"), lang) for item in items_}


def as_text(question: Question, value, lang: str = "fr") -> str:
    """An answer as one line of text (CSV cells, search): option labels, ranks, file names."""
    if is_empty(value):
        return ""
    options = labels(question.options or (), lang)
    if question.kind == "single":
        return options.get(value, str(value))
    if question.kind == "multiple":
        return "; ".join(options.get(k, str(k)) for k in value)
    if question.kind == "ranking":
        return "; ".join(f"{i}. {options.get(k, str(k))}" for i, k in enumerate(value, 1))
    if question.kind in MATRIX_KINDS:
        rows = labels(question.rows or (), lang)
        return "; ".join(f"{rows.get(r, r)}: {', '.join(options.get(k, k) for k in keys)}"
                         for r, keys in value.items())
    if question.kind == "file" and isinstance(value, Mapping):
        return str(value.get("path", ""))
    return str(value)



def checked(questions: Sequence[Question], values: Mapping, files: Iterable[int] = (),
            lang: str = "fr") -> dict[int, object]:
    """The answers to keep from a submission: for each shown question in order (conditions see
    the answers kept so far), its value checked and normalised; answers to hidden questions are
    dropped; a shown ``required`` question must be answered. ``files``: the ids of the file
    questions that came with a file (their value here is True; the caller stores the file)."""
    if not isinstance(values, Mapping):
        raise InvalidInput("the answers are a mapping of question ids to values")
    by_id = {q.id: q for q in questions}
    files = set(files)
    for key in set(values) | files:
        if not _is_int(key) or key not in by_id:
            raise InvalidInput(f"unknown question {str(key)[:20]!r}")
    for key in files:
        if by_id[key].kind != "file":
            raise InvalidInput(f"{name_of(by_id[key], lang)} takes no file")
    kept: dict[int, object] = {}
    for question in sorted(questions, key=lambda q: (q.position, q.id or 0)):
        if not all(_holds(c, kept.get(c.get("question"))) for c in question.conditions or ()):
            continue
        if question.kind == "block":
            if not is_empty(values.get(question.id)):
                raise InvalidInput(f"{name_of(question, lang)} takes no answer")
            continue
        if question.kind == "file":
            if not is_empty(values.get(question.id)):
                raise InvalidInput(f"{name_of(question, lang)}: send the file itself")
            value = True if question.id in files else None
        else:
            raw = values.get(question.id)
            value = None if is_empty(raw) else check_value(question, raw, lang)
        if is_empty(value):
            if question.required:
                raise InvalidInput(f"{name_of(question, lang)} is required")
            continue
        kept[question.id] = value
    return kept

__all__ = ["Feedback", "QUESTION_KINDS", "as_text", "check_conditions", "check_correct", "checked", "define",
           "check_pattern", "check_settings", "check_value", "feedback", "is_correct", "is_empty",
           "items", "name_of", "visible"]
