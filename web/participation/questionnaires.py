"""Questionnaires on the web: an organisation's list, the answer form (display conditions work without
JavaScript), the quiz's feedback, and for the organisation's admins the results with SVG charts and
the CSV and JSON exports (SECURITY.md rule 29). The builder is web/participation/questionnaire_admin.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from node import changes, visibility
from node.db import transaction
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.models import Actor, Phase, Question, Questionnaire, Space, User
from node.services import membership
from node.services import questionnaire_files as files_service
from node.services import questionnaire_forms as forms
from node.services import questionnaires as service
from node.services import spaces as space_service
from node.services.i18n import pick
from web import oversize
from web.cache import depends, shows
from web.errors import read_post
from web.i18n import _, locale_of, translate
from web.participation.common import (
    ADMINS,
    discussion_in,
    has_role,
    language_of,
    not_found,
    now,
    organisation,
    page,
    require_user,
    row_id,
    runtime,
    standing_in,
)
from web.participation.limits import too_long
from web.render import MAX_FORM, current_user
from web.sessions import check_csrf

# The most a file question may take (its ``max_bytes``): the form is read up to the sum of its file
# questions' limits, the node's usual request size cap raised for it alone (SECURITY.md rule 29).
MAX_FILE_SIZE = forms.FILE_SIZE[1]
MAX_FIELDS = 2000  # fields of one posted form (a matrix of 50 rows × 20 columns fits)
FIELD_RE = re.compile(r"^q(\d{1,10})(?:\.(.{1,200}))?$", re.S)

STATUS_TEXTS = {
    "draft": _("This questionnaire is a draft: only the organisation's admins see it."),
    "not_open": _("This questionnaire is not open yet."),
    "closed": _("This questionnaire is closed: it no longer takes answers."),
}
PROBLEMS = {
    "required": _("This question needs an answer."),
    "choice": _("Choose one of the options."),
    "choices": _("Choose between %(min)s and %(max)s options."),
    "rank": _("Give each option you rank a different number between 1 and %(max)s."),
    "scale": _("Choose a value between %(min)s and %(max)s."),
    "row": _("Answer every row."),
    "file_large": _("The file is limited to %(size)s."),
    "file_type": _("This type of file is not accepted here."),
    "nul": _("Remove the NUL character from this answer."),
}
CONDITION_TEXTS = {
    "answered": _("Answer this question only if you answered “%(question)s”."),
    "not_answered": _("Answer this question only if you did not answer “%(question)s”."),
    "equals": _("Answer this question only if your answer to “%(question)s” is “%(value)s”."),
    "not_equals": _("Answer this question only if your answer to “%(question)s” is not “%(value)s”."),
    "matches": _("Answer this question only if your answer to “%(question)s” contains “%(value)s”."),
}
ALREADY = _("You have already answered this questionnaire.")


def status_of(q: Questionnaire) -> str:
    """``open``, or why it takes no answer: ``draft``, ``not_open``, ``closed``."""
    moment = now()
    if q.state == "draft":
        return "draft"
    if q.state == "closed" or (q.closes_at is not None and moment >= q.closes_at):
        return "closed"
    if q.opens_at is not None and moment < q.opens_at:
        return "not_open"
    return "open"


def reading_language(request: web.Request, q: Questionnaire) -> str:
    """The page's language when the questionnaire is written in it, else its first language."""
    lang = locale_of(request)
    languages = list(q.languages or []) or ["fr"]
    return lang if lang in languages else languages[0]


def texts_helpers(q: Questionnaire, lang: str) -> dict:
    """``qpick``/``qpick_lang``: a text of the questionnaire in ``lang``, else its first language."""
    fallback = (q.languages or ["fr"])[0]
    return {"qpick": lambda texts: pick(texts, lang, fallback),
            "qpick_lang": lambda texts: language_of(texts, lang, fallback)}


async def questionnaire_of(session: AsyncSession, request: web.Request,
                           user: User | None) -> tuple[Questionnaire, Actor, bool]:
    """The questionnaire of the URL, its organisation and whether the visitor is one of its admins.

    A draft is for the admins only; a questionnaire whose level the visitor's standing does not
    admit answers the 404 of a missing one (SECURITY.md rule 24)."""
    org = await organisation(session, request)
    try:
        q = await service.by_slug(session, org, request.match_info["slug"])
    except NotFound:
        raise not_found(request) from None
    is_admin = await has_role(session, user, org, ADMINS)
    level = await service.level_of(session, q)
    if not is_admin and (q.state == "draft" or not visibility.admits(level, await standing_in(session, user, org))):
        raise not_found(request)
    shows(request, level)  # web/cache.py
    depends(request, changes.questionnaire(q.id), changes.profile(org.id), instead_of=(changes.org(org.id),))
    return q, org, is_admin


# -- the list ---------------------------------------------------------------------------------------

async def index(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires (?discussion=<slug>, ?space=<slug>&phase=<id>): the published
    and closed questionnaires (of the discussion, space or phase) the visitor may list."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        org = await organisation(session, request)
        who = await standing_in(session, user, org)
        is_admin = await has_role(session, user, org, ADMINS)
        # Listed at the visitor's standing, its space's and discussion's levels included (in SQL).
        levels = visibility.listed_levels(who)
        discussion = space = phase = None
        if request.query.get("discussion"):  # a discussion's questionnaires: its page links here
            discussion = await discussion_in(session, request, org, user, slug=request.query["discussion"])
            rows = await service.of_discussion(session, discussion, levels=levels)
        elif request.query.get("space"):  # a space's (or one of its phases'): the spaces link here
            space, phase = await space_in(session, request, org, who)
            rows = await service.of_space(session, space, levels=levels, phase=phase)
        else:
            rows = await service.of_organisation(session, org, levels=levels)
    lang = locale_of(request)
    return await page(request, "participation/questionnaires.html", {
        "org": org, "questionnaires": rows, "is_admin": is_admin, "discussion": discussion,
        "space": space, "phase": phase,
        "status_of": status_of,
        "title_of": lambda q: pick(q.title, lang, (q.languages or ["fr"])[0]),
        "title_lang_of": lambda q: language_of(q.title, lang, (q.languages or ["fr"])[0]),
    })


async def space_in(session: AsyncSession, request: web.Request, org: Actor,
                   who: visibility.Standing) -> tuple[Space, Phase | None]:
    """The space (``?space=<slug>``) and maybe one of its phases (``&phase=<id>``) of the list, or
    the 404 of a missing page when the visitor's standing does not admit the space's level."""
    try:
        space = await space_service.space_by_slug(session, org, request.query["space"])
    except NotFound:
        raise not_found(request) from None
    if not visibility.admits(visibility.level_of(space), who):
        raise not_found(request)
    shows(request, visibility.level_of(space))
    phase = None
    if request.query.get("phase"):
        phase = await session.get(Phase, row_id(request.query["phase"]) or 0)
        if phase is None or phase.space_id != space.id:
            raise not_found(request)
    return space, phase


# -- the form ---------------------------------------------------------------------------------------

def option_label(question: Question, key: object, lang: str, fallback: str) -> str:
    """The label of one of a question's options (or the value itself when it names none)."""
    for option in question.options or []:
        if option.get("key") == key:
            return pick(option.get("label") or {}, lang, fallback) or str(key)
    return str(key)


def condition_notes(questions: list[Question], lang: str, fallback: str, request: web.Request) -> dict[int, list[str]]:
    """Under each conditional question, when it applies, in words (what the page says without
    JavaScript: the server drops the answers to questions whose conditions do not hold)."""
    by_id = {question.id: question for question in questions}
    notes: dict[int, list[str]] = {}
    for question in questions:
        for condition in question.conditions or []:
            source = by_id.get(condition.get("question"))
            op = condition.get("op")
            if source is None or op not in CONDITION_TEXTS:
                continue
            value = condition.get("value")
            notes.setdefault(question.id, []).append(translate(
                request, CONDITION_TEXTS[op], question=pick(source.title, lang, fallback),
                value=option_label(source, value, lang, fallback) if value is not None else ""))
    return notes


def settings_of(question: Question) -> dict:
    return question.settings or {}


def file_limit(question: Question) -> int:
    size = settings_of(question).get("max_bytes")
    return min(size, MAX_FILE_SIZE) if isinstance(size, int) and size > 0 else forms.FILE_SIZE[0]


def file_types(question: Question) -> list[str]:
    """The extensions a file question accepts (its ``types``: groups of forms.FILE_GROUPS)."""
    return sorted({ext for group in settings_of(question).get("types") or ["images"]
                   for ext in forms.FILE_GROUPS.get(group, ())})


def text_limit(question: Question) -> int:
    limit = settings_of(question).get("max_length")
    return limit if isinstance(limit, int) and limit > 0 else forms.TEXT_LIMITS[question.kind][0]


def choice_bounds(question: Question) -> tuple[int, int]:
    options = len(question.options or [])
    settings = settings_of(question)
    low = settings.get("min_choices") if isinstance(settings.get("min_choices"), int) else 0
    high = settings.get("max_choices") if isinstance(settings.get("max_choices"), int) else options
    return max(low, 0), max(min(high, options), 0)


def scale_bounds(question: Question) -> tuple[int, int]:
    settings = settings_of(question)
    low = settings.get("min") if isinstance(settings.get("min"), int) else 1
    high = settings.get("max") if isinstance(settings.get("max"), int) else 5
    return low, high


def human_size(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"


@dataclass
class Posted:
    """What a posted answer form holds: its fields (repeated ones kept), its files and the file
    questions whose file was over its limit."""
    form: MultiDictProxy | MultiDict
    files: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    too_large: set[int] = field(default_factory=set)


def form_bound(questions: list[Question]) -> int:
    """The most a posted answer form may weigh: its text, and each file question's limit."""
    return MAX_FORM + sum(file_limit(q) + 4096 for q in questions if q.kind == "file")


async def read_answers(request: web.Request, questions: list[Question]) -> Posted:
    """The posted form, its CSRF token checked (403 otherwise). Its size is bounded before it is
    read (413 with what was typed, ``web.oversize``); the node's request size cap is raised to
    that bound for this form only, so a file question may take more than the cap."""
    bound = form_bound(questions)
    if request.content_length and request.content_length > bound:
        files = tuple(f"q{q.id}" for q in questions if q.kind == "file")
        raise await oversize.too_large(request, bound, files)
    try:
        form = await read_post(request.clone(client_max_size=bound, client_max_fields=MAX_FIELDS))
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(max_size=bound, actual_size=request.content_length or 0,
                                            text=translate(request, oversize.TOO_LARGE)) from None
    if not check_csrf(request, form.get("csrf_token") if isinstance(form.get("csrf_token"), str) else None):
        raise web.HTTPForbidden(text=translate(request, _("The form expired or came from another site. Reload and retry.")))
    posted = Posted(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))
    for question in questions:
        if question.kind != "file":
            continue
        upload = form.get(f"q{question.id}")
        if not isinstance(upload, web.FileField):
            continue
        limit = file_limit(question)
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            posted.too_large.add(question.id)
        elif data:
            posted.files[question.id] = (upload.filename or "file", data)
    return posted


def _keys(question: Question, attribute: str = "options") -> list[str]:
    return [str(item.get("key")) for item in getattr(question, attribute) or []]


def values_from(request: web.Request, questions: list[Question], posted: Posted) -> tuple[dict, dict]:
    """(values, errors) of a posted form, both by question id: the values in the shapes of
    ``Answer.value`` (web field names: ``q<id>``, repeated for several choices, ``q<id>.<key>``
    for a ranking's ranks and a matrix's rows). Only what the form can check is checked here
    (choices among the options, numbers, ranks); the service decides the rest."""
    form = posted.form
    values: dict[int, object] = {}
    errors: dict[int, str] = {}
    for question in questions:
        name, kind = f"q{question.id}", question.kind
        try:
            if kind in forms.TEXT_KINDS:
                text = (form.get(name) or "").strip()
                if text:
                    if "\x00" in text:
                        raise ValueError("nul")
                    if message := too_long(request, text, text_limit(question)):
                        errors[question.id] = message
                    values[question.id] = text
            elif kind == "single":
                chosen = form.get(name) or ""
                if chosen:
                    if chosen not in _keys(question):
                        raise ValueError("choice")
                    values[question.id] = chosen
            elif kind == "multiple":
                chosen = list(dict.fromkeys(v for v in form.getall(name, []) if v))
                if chosen:
                    if not set(chosen) <= set(_keys(question)):
                        raise ValueError("choice")
                    values[question.id] = chosen
            elif kind == "ranking":
                ranks = {}
                for key in _keys(question):
                    raw = (form.get(f"{name}.{key}") or "").strip()
                    if raw:
                        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= len(question.options)):
                            raise ValueError("rank")
                        ranks[key] = int(raw)
                if len(set(ranks.values())) != len(ranks):
                    raise ValueError("rank")
                if ranks:
                    values[question.id] = sorted(ranks, key=ranks.get)
            elif kind == "scale":
                raw = (form.get(name) or "").strip()
                if raw:
                    low, high = scale_bounds(question)
                    if not (re.fullmatch(r"-?\d{1,6}", raw) and low <= int(raw) <= high):
                        raise ValueError("scale")
                    values[question.id] = int(raw)
            elif kind in ("matrix_single", "matrix_multiple"):
                columns, cells = set(_keys(question)), {}
                for row in _keys(question, "rows"):
                    chosen = list(dict.fromkeys(v for v in form.getall(f"{name}.{row}", []) if v))
                    if not set(chosen) <= columns or (kind == "matrix_single" and len(chosen) > 1):
                        raise ValueError("choice")
                    if chosen:
                        cells[row] = chosen
                if cells:
                    values[question.id] = cells
            elif kind == "file":
                if question.id in posted.too_large:
                    errors[question.id] = translate(request, PROBLEMS["file_large"],
                                                    size=human_size(file_limit(question)))
                elif question.id in posted.files:
                    if files_service.kind_of(posted.files[question.id][1]) not in file_types(question):
                        raise ValueError("file_type")
                    values[question.id] = posted.files[question.id]
        except ValueError as problem:
            errors[question.id] = problem_text(request, question, str(problem))
    return values, errors


def problem_text(request: web.Request, question: Question, problem: str) -> str:
    low, high = scale_bounds(question)
    return translate(request, PROBLEMS[problem], min=low, max=high if problem == "scale" else len(
        question.options or []))


def check_visible(request: web.Request, questions: list[Question], values: dict, errors: dict) -> dict:
    """The values of the questions shown (the others' are dropped, as the service does), with a
    message for each required or bounded question left unanswered or out of bounds."""
    shown = service.visible(questions, {k: v for k, v in values.items() if k not in errors})
    kept = {}
    for question in shown:
        value = values.get(question.id)
        if question.id in errors:
            continue
        if value is None:
            if question.required and question.kind != "block":
                errors[question.id] = translate(request, PROBLEMS["required"])
            continue
        if question.kind == "multiple":
            low, high = choice_bounds(question)
            if not low <= len(value) <= high:
                errors[question.id] = translate(request, PROBLEMS["choices"], min=low, max=high)
        elif question.kind == "matrix_single" and question.required and len(value) < len(question.rows or []):
            errors[question.id] = translate(request, PROBLEMS["row"])
        kept[question.id] = value
    return kept


def form_values(posted: Posted | None) -> dict:
    """The typed values to show the form again: name → list of values."""
    if posted is None:
        return {}
    shown: dict[str, list[str]] = {}
    for key, value in posted.form.items():
        if FIELD_RE.match(key):
            shown.setdefault(key, []).append(value)
    return shown


async def form_context(session: AsyncSession, request: web.Request, q: Questionnaire, org: Actor,
                       user: User | None, is_admin: bool, **extra) -> dict:
    questions = await service.questions(session, q)
    lang = reading_language(request, q)
    fallback = (q.languages or ["fr"])[0]
    status = status_of(q)
    answered = user is not None and await service.has_answered(session, q, user)
    verified = not q.verified_only or (user is not None and await membership.is_verified(session, org, user))
    return {
        "org": org, "q": q, "questions": questions, "status": status,
        "status_text": translate(request, STATUS_TEXTS[status]) if status in STATUS_TEXTS else "",
        "answered": answered, "verified": verified, "is_admin": is_admin,
        # An admin sees a draft's form as a preview (without its button).
        "may_answer": user is not None and (status == "open" or (status == "draft" and is_admin))
                      and not answered and verified,
        "multipart": any(question.kind == "file" for question in questions),
        "notes": condition_notes(questions, lang, fallback, request),
        "conditions_json": {question.id: json.dumps(question.conditions or [], separators=(",", ":"))
                            for question in questions if question.conditions},
        "file_limit": lambda question: human_size(file_limit(question)), "file_types": file_types,
        "choice_bounds": choice_bounds, "scale_bounds": scale_bounds,
        "field_values": {}, "answer_errors": {},
        **texts_helpers(q, lang), **extra,
    }


async def form_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires/{slug}: the questions, or why the visitor cannot answer."""
    user = await current_user(request)
    async with runtime(request).sessions() as session:
        q, org, is_admin = await questionnaire_of(session, request, user)
        context = await form_context(session, request, q, org, user, is_admin, thanks="thanks" in request.query)
    return await page(request, "participation/questionnaire.html", context)


async def answer(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/questionnaires/{slug}: one response per person. The answers to questions
    hidden by their conditions are dropped; a quiz answers with its feedback page."""
    rt = runtime(request)
    user = await require_user(request)
    async with rt.sessions() as session:
        q, org, is_admin = await questionnaire_of(session, request, user)
        questions = await service.questions(session, q)
        # Closed, not open yet, a draft, for verified members only, already answered: said at once.
        refused = await refusal(session, request, q, user)
    try:
        posted = await read_answers(request, questions)
    except oversize.FormTooLarge as exc:
        # Over the form's bound: it comes back with what was typed, the file's field saying why;
        # nothing of it is stored.
        files = {question.id for question in questions if question.kind == "file"}
        named = {question_id for question_id in files if exc.field == f"q{question_id}"}
        posted = Posted(MultiDict((k, v) for k, v in exc.form.items() if isinstance(v, str)),
                        too_large=named or files)
        refused = refused or (413, translate(request, oversize.TOO_LARGE))
    values, errors = values_from(request, questions, posted)
    values = check_visible(request, questions, values, errors)
    if refused is None and not errors:
        lang = reading_language(request, q)
        try:
            async with transaction(rt.sessions) as session:
                q, org, is_admin = await questionnaire_of(session, request, user)
                await service.submit(session, rt.settings, q, user,
                                     {k: v for k, v in values.items() if k not in posted.files},
                                     files={k: v for k, v in values.items() if k in posted.files},
                                     language=lang)
        except Conflict:
            refused = (409, translate(request, ALREADY))
        except Forbidden:  # it closed meanwhile
            async with rt.sessions() as session:
                refused = await refusal(session, request, q, user) or (403, translate(request, STATUS_TEXTS["closed"]))
        except InvalidInput as invalid:  # what only the service checks (a file's content): its reason
            refused = (400, invalid.reason)
        else:
            if q.quiz:
                return await page(request, "participation/questionnaire_feedback.html", {
                    "org": org, "q": q, "feedback": service.feedback(questions, values),
                    "answer_text": lambda question, value: forms.as_text(question, value, lang),
                    **texts_helpers(q, lang)})
            raise web.HTTPSeeOther(rt.uris.questionnaire_page(org.username, q.slug) + "?thanks")
    status, general = refused or (413 if posted.too_large else 400, None)
    async with rt.sessions() as session:
        q, org, is_admin = await questionnaire_of(session, request, user)
        context = await form_context(session, request, q, org, user, is_admin,
                                     field_values=form_values(posted), answer_errors=errors,
                                     general_error=general)
    return await page(request, "participation/questionnaire.html", context, status=status)


async def refusal(session: AsyncSession, request: web.Request, q: Questionnaire,
                  user: User) -> tuple[int, str] | None:
    """(status, translated reason) when ``user`` may not answer ``q`` now, else None."""
    status = status_of(q)
    if status in STATUS_TEXTS:
        return 403, translate(request, STATUS_TEXTS[status])
    if await service.may_answer(session, q, user):  # open, so: verified members only
        return 403, translate(request, _("Only verified members of the organisation can answer this questionnaire."))
    if await service.has_answered(session, q, user):
        return 409, translate(request, ALREADY)
    return None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/questionnaires", index, name="questionnaires")
    app.router.add_get("/orgs/{org}/questionnaires/{slug}", form_page)
    app.router.add_post("/orgs/{org}/questionnaires/{slug}", answer)
