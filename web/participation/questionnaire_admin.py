"""The questionnaire builder of an organisation's admins: create a questionnaire, add, edit, move and
remove its questions of every kind (options, rows, settings, display conditions, a quiz's correct
answer and explanation, texts in fr/en/de), publish and close it. Anyone but its admins gets the 404
of a missing page (as the other admin pages of web/participation/members.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node import visibility
from node.db import transaction
from node.errors import Conflict, InvalidInput, NotFound
from node.models import Actor, Discussion, Phase, Question, Questionnaire, Space, User
from node.models.participation import LANGUAGES
from node.models.questionnaires import CONDITION_OPS, QUESTION_KINDS
from node.services import questionnaire_forms as forms
from node.services import questionnaires as service
from node.services import spaces as space_service
from web.i18n import _, translate
from web.participation.admin import flat, texts
from web.participation.common import (
    ADMINS,
    checked,
    has_role,
    not_found,
    organisation,
    page,
    require_user,
    row_id,
    runtime,
)
from web.participation.limits import oversize_errors, read_form_keeping
from web.participation.questionnaires import human_size
from web.render import read_form

KIND_LABELS = {
    "short_text": _("Short text"), "long_text": _("Long text"), "single": _("Single choice"),
    "multiple": _("Multiple choice"), "ranking": _("Ranking"), "scale": _("Linear scale or rating"),
    "matrix_single": _("Matrix (one answer per row)"), "matrix_multiple": _("Matrix (several answers per row)"),
    "file": _("File upload"), "block": _("Title and description (no answer)"),
}
OP_LABELS = {
    "answered": _("is answered"), "not_answered": _("is not answered"), "equals": _("is"),
    "not_equals": _("is not"), "matches": _("matches the pattern"),
}
STATE_LABELS = {"draft": _("Draft"), "published": _("Published"), "closed": _("Closed")}
FILE_GROUP_LABELS = {"images": _("Images (JPEG, PNG, WebP; re-encoded without their metadata)"),
                     "documents": _("Documents (PDF, OpenDocument, Word, Excel)")}
CONDITION_ROWS = 3  # condition lines in a question's form (the service allows forms.MAX_CONDITIONS)
NOT_SAVED = _("Not saved: %(reason)s")
# The form of a question: its texts in three languages, options and rows (one per line), settings.
QUESTION_FORM = 256 * 1024


async def admin_only(request: web.Request, session: AsyncSession) -> tuple[User, Actor]:
    """The signed-in admin and the organisation; anyone else gets the 404 of a missing page."""
    user = await require_user(request)
    org = await organisation(session, request)
    if not await has_role(session, user, org, ADMINS):
        raise not_found(request)
    return user, org


async def questionnaire_in(session: AsyncSession, request: web.Request, org: Actor) -> Questionnaire:
    try:
        return await service.by_slug(session, org, request.match_info["slug"])
    except NotFound:
        raise not_found(request) from None


def list_url(request: web.Request, org: Actor) -> str:
    return runtime(request).uris.admin(org.username, "questionnaires")


def builder_url(request: web.Request, org: Actor, q: Questionnaire, anchor: str = "") -> str:
    return runtime(request).uris.admin(org.username, "questionnaires", q.slug) + (f"#{anchor}" if anchor else "")


def helpers(request: web.Request) -> dict:
    return {
        "kind_label": lambda kind: translate(request, KIND_LABELS.get(kind, kind)),
        "op_label": lambda op: translate(request, OP_LABELS.get(op, op)),
        "questionnaire_state": lambda state: translate(request, STATE_LABELS.get(state, state)),
        "file_group_label": lambda group: translate(request, FILE_GROUP_LABELS.get(group, group)),
        "kinds": QUESTION_KINDS, "ops": CONDITION_OPS, "file_groups": list(forms.FILE_GROUPS),
        "condition_rows": CONDITION_ROWS, "visibilities": visibility.LEVELS, "section": "questionnaires",
        "human_size": human_size,
    }


# -- the list and creating a questionnaire -------------------------------------------------------------

async def _places(session: AsyncSession, org: Actor) -> list[tuple[str, str]]:
    """Where a questionnaire may belong: ("", nothing), spaces, their phases, discussions."""
    places = []
    for space in await space_service.spaces_of(session, org):
        places.append((f"space:{space.id}", space.title))
        for phase in await space_service.phases(session, space):
            places.append((f"phase:{phase.id}", (space.title, phase.name)))
    for discussion in await session.scalars(select(Discussion).where(Discussion.organization_id == org.id)
                                            .order_by(Discussion.id.desc()).limit(200)):
        places.append((f"discussion:{discussion.id}", discussion.title))
    return places


async def _list_context(session: AsyncSession, request: web.Request, org: Actor, **extra) -> dict:
    return {"org": org, "questionnaires": await service.of_organisation(
                session, org, levels=visibility.LEVELS, drafts=True),
            "places": await _places(session, org), "values": {"languages": ["fr"], "visibility": "public"},
            **helpers(request), **extra}


async def list_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/questionnaires."""
    async with runtime(request).sessions() as session:
        _user, org = await admin_only(request, session)
        context = await _list_context(session, request, org)
    return await page(request, "participation/admin/questionnaires.html", context)


def moment(request: web.Request, form: dict, name: str, errors: dict) -> datetime | None:
    """A ``datetime-local`` field, read as UTC (the times pages show)."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = translate(request, _("Give a date and a time (year-month-day hours:minutes)."))
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _place(session: AsyncSession, org: Actor, raw: str) -> dict:
    """The space, phase or discussion chosen (one of the organisation's), as ``create``'s arguments."""
    kind, _sep, number = (raw or "").partition(":")
    ident = row_id(number)
    if not raw:
        return {}
    if kind == "phase" and ident:
        phase = await session.get(Phase, ident)
        space = await session.get(Space, phase.space_id) if phase else None
        if phase and space and space.organization_id == org.id:
            return {"space": space, "phase": phase}
    if kind == "space" and ident:
        space = await session.get(Space, ident)
        if space and space.organization_id == org.id:
            return {"space": space}
    if kind == "discussion" and ident:
        discussion = await session.get(Discussion, ident)
        if discussion and discussion.organization_id == org.id:
            return {"discussion": discussion}
    raise InvalidInput("unknown place")


async def create(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/questionnaires: a draft, then its builder."""
    form, oversize = await read_form_keeping(request)
    rt = runtime(request)
    values = {k: (form.get(k) or "").strip() for k in ("slug", "visibility", "place", "opens_at", "closes_at")}
    flat(values, "title", form)
    flat(values, "description", form)
    values["languages"] = [lang for lang in LANGUAGES if checked(form, f"language_{lang}")]
    for name in ("anonymous", "quiz", "verified_only"):
        values[name] = checked(form, name)
    errors: dict[str, str] = {}
    nul_error(request, form, errors, "title")
    if not texts(form, "title"):
        errors["title"] = translate(request, _("Give a title in at least one language."))
    if not values["languages"]:
        errors["languages"] = translate(request, _("Choose at least one language."))
    if values["visibility"] not in visibility.LEVELS:
        errors["visibility"] = translate(request, _("Choose a visibility."))
    opens_at = moment(request, form, "opens_at", errors)
    closes_at = moment(request, form, "closes_at", errors)
    status = oversize_errors(request, errors, oversize, {"title": forms.MAX_TITLE, "description": 20_000},
                             fallback="description")
    async with transaction(rt.sessions) as session:
        _user, org = await admin_only(request, session)
        if not errors:
            try:
                place = await _place(session, org, values["place"])
            except InvalidInput:
                errors["place"] = translate(request, _("Choose one of the organisation's spaces, phases or discussions."))
        if not errors:
            # The page's language first: it is the questionnaire's default language.
            try:
                q = await service.create(
                    session, org, values["slug"].lower(), texts(form, "title"),
                    description=texts(form, "description"), languages=values["languages"],
                    anonymous=values["anonymous"], quiz=values["quiz"], verified_only=values["verified_only"],
                    opens_at=opens_at, closes_at=closes_at, visibility=values["visibility"], **place)
            except Conflict:
                errors["slug"] = translate(request, _("This organisation already has a questionnaire with this name."))
            except InvalidInput as refused:
                field = "slug" if "slug" in refused.reason or "name" in refused.reason else "title"
                errors[field] = translate(request, NOT_SAVED, reason=refused.reason)
        if errors:
            context = await _list_context(session, request, org, values=values, errors=errors)
    if errors:
        return await page(request, "participation/admin/questionnaires.html", context, status=status)
    raise web.HTTPSeeOther(builder_url(request, org, q))


# -- the builder -------------------------------------------------------------------------------------

def _lines(form: dict, name: str) -> dict[str, list[str]]:
    return {lang: [line.strip() for line in (form.get(f"{name}_{lang}") or "").splitlines()]
            for lang in LANGUAGES}


def items_from(form: dict, name: str, existing: list[dict]) -> list[dict]:
    """Options (or rows) typed one per line in each language, the lines of every language in the
    same order; an existing option keeps its key (answers and conditions name it), a new one takes
    the next free number."""
    lines = _lines(form, name)
    count = max((len(rows) for rows in lines.values()), default=0)
    used = {str(item.get("key")) for item in existing}
    out, next_key = [], 1
    for index in range(count):
        label = {lang: rows[index] for lang, rows in lines.items() if index < len(rows) and rows[index]}
        if not label:
            continue
        if index < len(existing):
            key = str(existing[index].get("key"))
        else:
            while str(next_key) in used:
                next_key += 1
            key = str(next_key)
            used.add(key)
        out.append({"key": key, "label": label})
    return out


def nul_error(request: web.Request, form: dict, errors: dict, field: str) -> None:
    """A NUL character is refused (PostgreSQL stores none in text or JSON; SECURITY.md rule 19)."""
    if any("\x00" in value for value in form.values() if isinstance(value, str)):
        errors.setdefault(field, translate(request, _("The form contains a NUL character: remove it.")))


def whole(raw: str) -> int | None:
    """A whole number typed in a field (ASCII digits, an optional minus), None for anything else."""
    raw = raw.strip()
    return int(raw) if re.fullmatch(r"-?[0-9]{1,7}", raw) else None


def number(form: dict, name: str, errors: dict, request: web.Request, low: int, high: int) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    value = whole(raw)
    if value is None or not low <= value <= high:
        errors[name] = translate(request, _("Give a whole number from %(min)s to %(max)s."), min=low, max=high)
        return None
    return value


def settings_from(request: web.Request, kind: str, form: dict, errors: dict) -> dict:
    """The settings of a question of ``kind`` from its form (the service checks them again)."""
    settings: dict = {}
    if kind in forms.TEXT_KINDS:
        settings["max_length"] = number(form, "max_length", errors, request, 1, forms.TEXT_LIMITS[kind][1])
    elif kind in ("multiple", "ranking", "matrix_multiple"):
        if kind != "matrix_multiple":
            settings["min_choices"] = number(form, "min_choices", errors, request, 0, forms.MAX_OPTIONS)
        settings["max_choices"] = number(form, "max_choices", errors, request, 1, forms.MAX_OPTIONS)
    elif kind == "scale":
        settings["min"] = number(form, "scale_min", errors, request, *forms.SCALE_BOUNDS)
        settings["max"] = number(form, "scale_max", errors, request, *forms.SCALE_BOUNDS)
        settings["min_label"] = texts(form, "min_label") or None
        settings["max_label"] = texts(form, "max_label") or None
    elif kind == "file":
        settings["types"] = [group for group in forms.FILE_GROUPS if checked(form, f"types_{group}")] or ["images"]
        megabytes = number(form, "max_mb", errors, request, 1, forms.FILE_SIZE[1] // (1024 * 1024))
        settings["max_bytes"] = megabytes * 1024 * 1024 if megabytes else None
    return {k: v for k, v in settings.items() if v is not None}


def typed_value(target: Question | None, raw: str):
    """A condition's or a correct answer's value as the answers store it: an int on a scale."""
    raw = raw.strip()
    if target is not None and target.kind == "scale" and whole(raw) is not None:
        return whole(raw)
    return raw


def conditions_from(form: dict, by_id: dict[int, Question]) -> list[dict]:
    conditions = []
    for index in range(CONDITION_ROWS):
        target_id = row_id(form.get(f"condition_{index}_question"))
        op = form.get(f"condition_{index}_op") or ""
        if not target_id:
            continue
        condition = {"question": target_id, "op": op}
        if op in ("equals", "not_equals", "matches"):
            condition["value"] = typed_value(by_id.get(target_id), form.get(f"condition_{index}_value") or "")
        conditions.append(condition)
    return conditions


def correct_from(kind: str, raw: str, question: Question | None):
    """A quiz's correct answer as typed: option keys separated by commas for several choices and a
    ranking (in order), a key, a number on a scale, a text."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if kind in ("multiple", "ranking"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind == "scale":
        return raw if whole(raw) is None else whole(raw)
    return raw


def definition(request: web.Request, form: dict, kind: str, question: Question | None,
               earlier: dict[int, Question], errors: dict) -> dict:
    """The arguments of add_question/update_question read from a question's form."""
    return {
        "title": texts(form, "title"), "description": texts(form, "description"),
        "required": checked(form, "required"),
        "options": items_from(form, "options", question.options if question else []),
        "rows": items_from(form, "rows", question.rows if question else []),
        "settings": settings_from(request, kind, form, errors),
        "conditions": conditions_from(form, earlier),
        "correct": correct_from(kind, form.get("correct") or "", question),
        "explanation": texts(form, "explanation"),
    }


def question_values(question: Question) -> dict:
    """A question's form filled with what it holds (to edit it)."""
    values = {"required": question.required, "correct": ""}
    for lang in LANGUAGES:
        values[f"title_{lang}"] = (question.title or {}).get(lang, "")
        values[f"description_{lang}"] = (question.description or {}).get(lang, "")
        values[f"explanation_{lang}"] = (question.explanation or {}).get(lang, "")
        values[f"options_{lang}"] = "\n".join((o.get("label") or {}).get(lang, "") for o in question.options or [])
        values[f"rows_{lang}"] = "\n".join((r.get("label") or {}).get(lang, "") for r in question.rows or [])
        for end in ("min_label", "max_label"):
            values[f"{end}_{lang}"] = ((question.settings or {}).get(end) or {}).get(lang, "")
    settings = question.settings or {}
    for name in ("max_length", "min_choices", "max_choices"):
        values[name] = settings.get(name, "")
    values["scale_min"], values["scale_max"] = settings.get("min", ""), settings.get("max", "")
    values["max_mb"] = settings["max_bytes"] // (1024 * 1024) if settings.get("max_bytes") else ""
    for group in forms.FILE_GROUPS:
        values[f"types_{group}"] = group in (settings.get("types") or [])
    for index, condition in enumerate((question.conditions or [])[:CONDITION_ROWS]):
        values[f"condition_{index}_question"] = condition.get("question")
        values[f"condition_{index}_op"] = condition.get("op")
        values[f"condition_{index}_value"] = "" if condition.get("value") is None else str(condition["value"])
    correct = question.correct
    values["correct"] = ", ".join(correct) if isinstance(correct, list) else ("" if correct is None else str(correct))
    return values


async def _builder_context(session: AsyncSession, request: web.Request, org: Actor, q: Questionnaire,
                           **extra) -> dict:
    questions = await service.questions(session, q)
    return {"org": org, "q": q, "questions": questions,
            "question_values": {question.id: question_values(question) for question in questions},
            "has_answers": q.response_count > 0, "edit_errors": {}, "edited": None,
            "can_move": callable(getattr(service, "move_question", None)),
            "values": {"kind": "short_text"}, "errors": {}, **helpers(request), **extra,
            "error_ids": {name: f"new-{name}" for name in extra.get("errors") or {}}}


async def builder(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/admin/questionnaires/{slug}: its questions, each editable, and a new one."""
    async with runtime(request).sessions() as session:
        _user, org = await admin_only(request, session)
        q = await questionnaire_in(session, request, org)
        context = await _builder_context(session, request, org, q, saved=request.query.get("saved"))
    return await page(request, "participation/admin/questionnaire.html", context)


def flat_question(form: dict) -> dict:
    """A question's form as typed, to show it again."""
    values: dict = {name: (form.get(name) or "") for name in (
        "kind", "max_length", "min_choices", "max_choices", "scale_min", "scale_max", "max_mb", "correct")}
    for name in ("title", "description", "explanation", "options", "rows", "min_label", "max_label"):
        flat(values, name, form)
    values["required"] = checked(form, "required")
    for group in forms.FILE_GROUPS:
        values[f"types_{group}"] = checked(form, f"types_{group}")
    for index in range(CONDITION_ROWS):
        for part in ("question", "op", "value"):
            values[f"condition_{index}_{part}"] = form.get(f"condition_{index}_{part}") or ""
    values["condition_0_question"] = row_id(values["condition_0_question"]) or ""
    for index in range(1, CONDITION_ROWS):
        values[f"condition_{index}_question"] = row_id(values[f"condition_{index}_question"]) or ""
    return values


async def add_question(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/questionnaires/{slug}/questions."""
    form, oversize = await read_form_keeping(request, max_size=QUESTION_FORM)
    rt = runtime(request)
    kind = form.get("kind") or ""
    errors: dict[str, str] = {}
    if kind not in QUESTION_KINDS:
        errors["kind"] = translate(request, _("Choose a kind of question."))
    nul_error(request, form, errors, "title")
    status = oversize_errors(request, errors, oversize, {}, fallback="title")
    async with transaction(rt.sessions) as session:
        _user, org = await admin_only(request, session)
        q = await questionnaire_in(session, request, org)
        if not errors:
            earlier = {question.id: question for question in await service.questions(session, q)}
            arguments = definition(request, form, kind, None, earlier, errors)
            if not errors:
                try:
                    question = await service.add_question(session, q, kind, arguments.pop("title"), **arguments)
                except (InvalidInput, Conflict) as refused:
                    errors["title"] = translate(request, NOT_SAVED, reason=refused.reason)
        if errors:
            context = await _builder_context(session, request, org, q, values=flat_question(form), errors=errors)
    if errors:
        return await page(request, "participation/admin/questionnaire.html", context, status=status)
    raise web.HTTPSeeOther(builder_url(request, org, q, f"question-{question.id}"))


async def change_question(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/questionnaires/{slug}/questions/{id}: ``action`` save, remove, up, down."""
    form, oversize = await read_form_keeping(request, max_size=QUESTION_FORM)
    rt = runtime(request)
    action = form.get("action") or "save"
    errors: dict[str, str] = {}
    nul_error(request, form, errors, "title")
    status = oversize_errors(request, errors, oversize, {}, fallback="title")
    async with transaction(rt.sessions) as session:
        _user, org = await admin_only(request, session)
        q = await questionnaire_in(session, request, org)
        questions = await service.questions(session, q)
        question = next((x for x in questions if x.id == row_id(request.match_info["question"])), None)
        if question is None:
            raise not_found(request)
        if not errors:
            try:
                if action == "remove":
                    await service.remove_question(session, question)
                elif action in ("up", "down"):
                    move = getattr(service, "move_question", None)
                    if move is None:
                        raise InvalidInput("questions cannot be moved on this node yet")
                    await move(session, question, -1 if action == "up" else 1)
                elif action == "save":
                    earlier = {x.id: x for x in questions if x.position < question.position}
                    arguments = definition(request, form, question.kind, question, earlier, errors)
                    if not errors:
                        await service.update_question(session, question, **arguments)
                else:
                    raise InvalidInput("unknown action")
            except (InvalidInput, Conflict) as refused:
                errors["title"] = translate(request, NOT_SAVED, reason=refused.reason)
        if errors:
            context = await _builder_context(session, request, org, q, edited=question.id,
                                             edit_errors=errors)
            if action == "save":
                context["question_values"][question.id] = flat_question(form)
    if errors:
        return await page(request, "participation/admin/questionnaire.html", context, status=status)
    anchor = "questions" if action == "remove" else f"question-{question.id}"
    raise web.HTTPSeeOther(builder_url(request, org, q, anchor))


async def change_state(request: web.Request) -> web.StreamResponse:
    """POST /orgs/{org}/admin/questionnaires/{slug}/state: ``action`` publish or close."""
    form = await read_form(request)
    rt = runtime(request)
    problem = None
    async with transaction(rt.sessions) as session:
        _user, org = await admin_only(request, session)
        q = await questionnaire_in(session, request, org)
        try:
            if form.get("action") == "publish":
                await service.publish(session, q)
            elif form.get("action") == "close":
                await service.close(session, q)
            else:
                raise InvalidInput("unknown action")
        except (InvalidInput, Conflict) as refused:
            problem = translate(request, NOT_SAVED, reason=refused.reason)
    if problem:
        async with rt.sessions() as session:
            q = await questionnaire_in(session, request, org)
            context = await _builder_context(session, request, org, q, state_error=problem)
        return await page(request, "participation/admin/questionnaire.html", context, status=409)
    raise web.HTTPSeeOther(builder_url(request, org, q))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/admin/questionnaires", list_page)
    app.router.add_post("/orgs/{org}/admin/questionnaires", create)
    app.router.add_get("/orgs/{org}/admin/questionnaires/{slug}", builder)
    app.router.add_post("/orgs/{org}/admin/questionnaires/{slug}/questions", add_question)
    app.router.add_post("/orgs/{org}/admin/questionnaires/{slug}/questions/{question}", change_question)
    app.router.add_post("/orgs/{org}/admin/questionnaires/{slug}/state", change_state)
