"""The results of a questionnaire and its exports, for the organisation's admins only (SECURITY.md
rule 29): a server-rendered SVG chart per question from one query over the answers
(node/services/questionnaires.py ``results``), the CSV and JSON exports, the files sent."""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import NotFound
from node.models import Actor, Question, Questionnaire
from node.services import questionnaire_export as export_service
from node.services import questionnaire_files as files_service
from node.services import questionnaire_forms as forms
from node.services import questionnaires as service
from node.services.i18n import pick
from web.i18n import _, translate
from web.participation import charts
from web.participation.common import ADMINS, has_role, not_found, organisation, page, runtime
from web.participation.questionnaires import reading_language, texts_helpers
from web.render import current_user

SAMPLE = service.SAMPLES  # text answers and files shown per question


async def admin_questionnaire(session: AsyncSession, request: web.Request) -> tuple[Questionnaire, Actor]:
    """The questionnaire for one of its organisation's admins; anyone else gets the 404 of a
    missing page (its answers are for them alone, SECURITY.md rule 29)."""
    user = await current_user(request)
    org = await organisation(session, request)
    if not await has_role(session, user, org, ADMINS):
        raise not_found(request)
    try:
        q = await service.by_slug(session, org, request.match_info["slug"])
    except NotFound:
        raise not_found(request) from None
    return q, org


async def results_page(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires/{slug}/results: a chart per question (computed in one query
    over the answers, node/services/questionnaires.py ``results``)."""
    async with runtime(request).sessions() as session:
        q, org = await admin_questionnaire(session, request)
        results = await service.results(session, q)
    lang = reading_language(request, q)
    fallback = (q.languages or ["fr"])[0]
    figures = [figure_of(request, result, lang, fallback) for result in results]
    return await page(request, "participation/questionnaire_results.html", {
        "org": org, "q": q, "figures": figures, **texts_helpers(q, lang)})


def labelled(question: Question, attribute: str, lang: str, fallback: str) -> list[tuple[str, str]]:
    return [(str(item.get("key")), pick(item.get("label") or {}, lang, fallback) or str(item.get("key")))
            for item in getattr(question, attribute) or []]


def figure_of(request: web.Request, result: service.QuestionResult, lang: str, fallback: str) -> dict:
    """What the results page shows of one question: its chart, its figures as a table, samples."""
    question = result.question
    title = pick(question.title, lang, fallback)
    chart_id = f"chart-q{question.id}"
    figure = {"question": question, "title": title, "answered": result.answered, "chart": None,
              "table": [], "columns": [], "samples": [], "files": [], "mean": None}
    description = translate(request, _("Answers: %(count)s."), count=result.answered)
    if question.kind in ("single", "multiple"):
        correct = question.correct if isinstance(question.correct, list) else [question.correct]
        rows = [(label, result.counts.get(key, 0), key in correct)
                for key, label in labelled(question, "options", lang, fallback)]
        figure["table"] = [(label, count) for label, count, _correct in rows]
        # A quiz's correct options are the highlighted bars.
        figure["chart"] = charts.ranked_bars(rows, chart_id=chart_id, title=title, description=description)
    elif question.kind == "ranking":
        rows = sorted(((label, result.points.get(key, 0), False)
                       for key, label in labelled(question, "options", lang, fallback)), key=lambda row: -row[1])
        figure["table"] = [(label, points) for label, points, _mark in rows]
        figure["chart"] = charts.ranked_bars(rows, chart_id=chart_id, title=title, description=translate(
            request, _("Points: %(count)s for a first place, one less for each place below."),
            count=len(question.options or [])))
    elif question.kind == "scale":
        rows = [(value, count) for value, count in result.counts.items()]
        figure["table"] = rows
        figure["mean"] = result.mean
        figure["chart"] = charts.distribution(rows, chart_id=chart_id, title=title, description=description)
    elif question.kind in forms.MATRIX_KINDS:
        columns = labelled(question, "options", lang, fallback)
        rows = [(label, [(result.cells.get(row) or {}).get(key, 0) for key, _label in columns])
                for row, label in labelled(question, "rows", lang, fallback)]
        figure["columns"] = [label for _key, label in columns]
        figure["table"] = rows
        figure["chart"] = charts.stacked_rows(rows, figure["columns"], chart_id=chart_id, title=title,
                                              description=description)
    elif question.kind in forms.TEXT_KINDS:
        figure["samples"] = result.samples[:SAMPLE]
    elif question.kind == "file":
        figure["files"] = [f for f in result.files[:SAMPLE] if isinstance(f, dict)
                           and files_service.stored_file(runtime(request).settings.data_dir, f.get("path"))]
    return figure


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


async def export_csv(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires/{slug}/export.csv: one row per response (no account in it)."""
    async with runtime(request).sessions() as session:
        q, _org = await admin_questionnaire(session, request)
        body = await export_service.to_csv(session, q)
    return _download(body, "text/csv", f"{q.slug}.csv")


async def export_json(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires/{slug}/export.json: the questions and every response."""
    async with runtime(request).sessions() as session:
        q, _org = await admin_questionnaire(session, request)
        document = await export_service.to_json(session, q)
    body = json.dumps(document, ensure_ascii=False, indent=1, default=str).encode()
    return _download(body, "application/json", f"{q.slug}.json")


async def answer_file(request: web.Request) -> web.StreamResponse:
    """GET /orgs/{org}/questionnaires/{slug}/files/{name}: a file sent with an answer, to the
    organisation's admins only, as a download (never shown inline: SECURITY.md rule 29)."""
    async with runtime(request).sessions() as session:
        q, _org = await admin_questionnaire(session, request)
    path = f"{q.id}/{request.match_info['name']}"
    stored = files_service.stored_file(runtime(request).settings.data_dir, path)
    if stored is None or not stored.is_file():
        raise not_found(request)
    ext = path.rsplit(".", 1)[1]
    return web.FileResponse(stored, headers={
        "Content-Type": files_service.MEDIA_TYPES[ext], "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="answer.{ext}"',
        "Content-Security-Policy": "default-src 'none'; sandbox"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orgs/{org}/questionnaires/{slug}/results", results_page)
    app.router.add_get("/orgs/{org}/questionnaires/{slug}/export.csv", export_csv)
    app.router.add_get("/orgs/{org}/questionnaires/{slug}/export.json", export_json)
    app.router.add_get("/orgs/{org}/questionnaires/{slug}/files/{name}", answer_file)
