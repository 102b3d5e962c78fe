"""A questionnaire with 8,300 answers: its CSV export and its results page (issue 11's benchmark).

One command: `.venv/bin/python bench/bench_questionnaire.py [--database-url URL] [--quick] [--no-record]
[--code TEXT]`

- --database-url URL: PostgreSQL instead of SQLite: a database of its own is created on that server
  for the run and dropped at the end (default: $CIVIC_BENCH_DATABASE_URL, else
  $CIVIC_TEST_DATABASE_URL, when set).
- --quick: a check that the whole command works (40 respondents, short runs); its figures are
  printed, never written to bench/RESULTS.md.

The data, as Lahr's (390 respondents, 8,300 answers): one questionnaire of an organisation, in
German, French and English, with a title block and 22 questions of every kind that takes an answer
here but files — short and long texts, single and multiple choice, a ranking, linear scales, single
and multiple matrices — and one question shown only to those who answered "ja" to the first choice
(display condition). 390 residents answer it through the service (``questionnaires.submit``, each
in its own transaction, as the form does): 21 answers each, and the conditional one for 110 of them:
8,300 answers.

Measured, the node (its real app, bench/bench_pages.py's ``serve_node``) in a process of its own:

1. Export to CSV through the service (``questionnaire_export.to_csv``, a new session each call, in
   this process) and through the HTTP export route (the organisation's admin signed in), CALLS
   times each; goal: every call under 2 s. The JSON export through the service beside it. The
   raw baseline in the same run: one SELECT of the answers and csv.writer (in this process), and
   the same served by a minimal aiohttp handler (in a process of its own).
2. The results page, for the admin: uncached (a new URL each request, one connection, so each
   latency is one rendering; the web process's CPU time per page beside it) and the same URL
   again (what a page cache may serve; its CPU time per page says whether one did — the results
   page is for the organisation's admins only, and the node renders it for each request);
   goal: uncached median ≤ 100 ms, its p99 said beside it. The raw baseline: a minimal
   aiohttp handler doing one GROUP BY over the answers and a jinja2 table of the counts.
3. The live mix, twice: mix_seconds of new responses through the HTTP form (RESPONSE_RATE a
   second, each by a resident signed in for it, open loop) while the admin reads the results page
   uncached, one request after another (the render goal holds there too); then as long again while
   the admin exports the CSV instead. The same figures, and the responses' statuses.

After the runs: the CSV holds one row per response and no account name; the stored answers are the
seeded ones plus those of the responses answered. The node's peak RSS (VmHWM) is read from /proc.
Everything runs on loopback, bounded in count and time, and stops by itself; it exits with 1 when a
goal is not met or a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import multiprocessing
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_processes  # noqa: E402
from bench.bench_ballots import DB_ENVS, Timed, _load_average, _say, _start, gets  # noqa: E402
from bench.bench_pages import PASSWORD, _code, login, serve_node  # noqa: E402
from bench.load import (  # noqa: E402
    HOST,
    REQUEST_TIMEOUT,
    cpu_seconds,
    free_port,
    memory_mb,
    pct,
    steady,
    wait_up,
)
from bench.report import append  # noqa: E402
from node.config import Settings  # noqa: E402
from node.db import create_engine, session_factory, transaction  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from node.models import Answer, Questionnaire, QuestionnaireResponse  # noqa: E402
from node.services import actors, questionnaire_export, questionnaires  # noqa: E402
from node.uris import Uris  # noqa: E402
from web.security import COOKIE  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORG, SLUG, ADMIN = "lahr", "stadtentwicklung", "rathaus"
LANGUAGES = ("de", "fr", "en")
CONDITIONAL_YES = 110  # respondents who say "ja" to the first choice, and so see one more question
GOAL_EXPORT_S, GOAL_RENDER_MS = 2.0, 100.0
RESPONSE_RATE = 2.0  # new responses a second during the live mix
RAW = jinja2.Environment(autoescape=True).from_string(
    "<!doctype html><html lang=de><head><title>{{ title }}</title></head><body><main><h1>{{ title }}</h1>"
    "{% for question, counts in results %}<section><h2>{{ question }}</h2><table>"
    "{% for value, n in counts %}<tr><td>{{ value }}</td><td>{{ n }}</td></tr>{% endfor %}"
    "</table></section>{% endfor %}</main></body></html>")


@dataclass(frozen=True)
class Scale:
    respondents: int
    conditional: int  # of them, those who answer the conditional question
    calls: int  # exports and renderings timed per kind
    mix_seconds: float


FULL = Scale(respondents=390, conditional=CONDITIONAL_YES, calls=10, mix_seconds=10.0)
QUICK = Scale(respondents=40, conditional=10, calls=3, mix_seconds=2.0)


def _texts(de: str, fr: str, en: str) -> dict:
    return {"de": de, "fr": fr, "en": en}


def _options(*keys: str) -> list[dict]:
    return [{"key": key, "label": _texts(key.capitalize(), key.capitalize(), key.capitalize())} for key in keys]


LIKERT = ("gar-nicht", "wenig", "teils", "eher", "sehr")
AREAS = ("innenstadt", "bahnhof", "seepark", "schutter", "kanadaring", "dinglingen")
# The questions, in order: (kind, title, options or None, rows or None, settings or None).
QUESTIONS: list[tuple[str, str, tuple, tuple, dict | None]] = [
    ("block", "Stadtentwicklung Lahr 2035", (), (), None),
    ("single", "Wohnen Sie in Lahr?", ("ja", "nein"), (), None),
    ("short_text", "In welchem Stadtteil?", (), (), None),
    ("short_text", "Ihr Alter (Jahre)", (), (), None),
    ("short_text", "Ihr Lieblingsort in Lahr", (), (), None),
    ("short_text", "Ein Wort für Lahr", (), (), None),
    ("long_text", "Was gefällt Ihnen an Lahr?", (), (), None),
    ("long_text", "Was sollte sich ändern?", (), (), None),
    ("long_text", "Ihre Idee für die Innenstadt", (), (), None),
    ("single", "Wie kommen Sie in die Stadt?", ("auto", "bus", "rad", "fuss"), (), None),
    ("single", "Wie oft besuchen Sie die Innenstadt?", ("taeglich", "woechentlich", "monatlich", "selten"), (), None),
    ("single", "Sollte die Marktstraße autofrei werden?", ("ja", "nein", "weiss-nicht"), (), None),
    ("multiple", "Welche Angebote nutzen Sie?", ("markt", "bibliothek", "bad", "museum", "park", "kino"), (),
     {"min_choices": 1, "max_choices": 4}),
    ("multiple", "Was fehlt Ihnen?", ("cafes", "spielplaetze", "baenke", "radwege", "toiletten"), (), {"min_choices": 1, "max_choices": 3}),
    ("multiple", "Wo sollte gebaut werden?", AREAS, (), {"min_choices": 1, "max_choices": 2}),
    ("ranking", "Ordnen Sie die Prioritäten", ("wohnen", "verkehr", "gruen", "kultur", "handel"), (), None),
    ("scale", "Wie zufrieden sind Sie mit Lahr?", (), (), {"min": 1, "max": 5}),
    ("scale", "Wie sicher fühlen Sie sich abends?", (), (), {"min": 1, "max": 5}),
    ("scale", "Wie gut ist der Nahverkehr?", (), (), {"min": 0, "max": 10}),
    ("matrix_single", "Wie wichtig ist Ihnen …", LIKERT, ("gruen", "parken", "laerm", "licht"), None),
    ("matrix_single", "Wie bewerten Sie …", LIKERT, ("sauberkeit", "sicherheit", "angebot"), None),
    ("matrix_multiple", "Wann nutzen Sie …", ("morgens", "mittags", "abends"), ("markt", "park", "bad"), None),
    ("single", "Seit wann wohnen Sie hier?", ("unter-5", "5-20", "ueber-20"), (), None),  # conditional
]
CONDITIONAL = len(QUESTIONS) - 1  # index of the question shown when the first choice is "ja"


# --- the node's data -----------------------------------------------------------------------------

@dataclass
class Seeded:
    questionnaire_id: int
    questions: list  # the Question rows, in order
    answers: int  # answers stored by the seeding
    extra: list[str]  # residents who answer during the live mix


def values_for(rng: random.Random, questions: list, says_yes: bool) -> dict[int, object]:
    """One resident's answers: every question but the block and, unless ``says_yes``, the
    conditional one (which is then hidden: an answer to it would be dropped)."""
    values: dict[int, object] = {}
    for k, (question, (kind, _title, options, rows, settings)) in enumerate(zip(questions, QUESTIONS, strict=True)):
        if kind == "block" or (k == CONDITIONAL and not says_yes):
            continue
        if k == 1:
            values[question.id] = "ja" if says_yes else "nein"
        elif kind == "short_text":
            values[question.id] = rng.choice(AREAS) if k == 2 else f"{rng.randint(16, 90)}" if k == 3 \
                else rng.choice(("Seepark", "Marktplatz", "Storchenturm", "Altvater", "Schutterlindenberg"))
        elif kind == "long_text":
            values[question.id] = " ".join(rng.choice(("Mehr Grün", "weniger Verkehr", "=SUMME(A1)", "bessere Busse",
                                                       "Cafés am Abend", "sichere Radwege", "Bänke"))
                                           for _ in range(rng.randint(3, 25)))
        elif kind == "single":
            values[question.id] = rng.choice(options)
        elif kind == "multiple":
            values[question.id] = sorted(rng.sample(options, rng.randint(settings["min_choices"], settings["max_choices"])))
        elif kind == "ranking":
            values[question.id] = rng.sample(options, len(options))
        elif kind == "scale":
            values[question.id] = rng.randint(settings["min"], settings["max"])
        elif kind == "matrix_single":
            values[question.id] = {row: [rng.choice(options)] for row in rows}
        elif kind == "matrix_multiple":
            values[question.id] = {row: sorted(rng.sample(options, rng.randint(1, len(options)))) for row in rows}
    return values


async def seed(url: str, base: str, data_dir: str, scale: Scale, extra: int) -> Seeded:
    """The organisation, its admin, the questionnaire through Q1's services; the respondents as
    accounts sharing one prepared password hash and key pair; their responses through
    ``questionnaires.submit``, one transaction each."""
    engine = create_engine(url)
    await upgrade(engine)
    uris_settings = Settings(base_url=base, database_url=url, data_dir=Path(data_dir), development=True,
                             secret_key="bench")
    sessions = session_factory(engine)
    rng = random.Random(8300)
    try:
        credentials = await actors.prepare_credentials(PASSWORD)
        uris = Uris(base)
        async with transaction(sessions) as s:
            org = await actors.create_organization(s, uris, ORG, "Stadt Lahr")
            admin = await actors.create_user(s, uris, ADMIN, PASSWORD, "Rathaus Lahr", credentials=credentials)
            await actors.add_member(s, admin, org, "admin")
            q = await questionnaires.create(s, org, SLUG, _texts("Lahr 2035", "Lahr 2035", "Lahr 2035"),
                                            description=_texts("Ihre Meinung zählt.", "Votre avis compte.",
                                                               "Your opinion counts."),
                                            languages=LANGUAGES)
            rows = []
            for k, (kind, title, options, matrix_rows, settings) in enumerate(QUESTIONS):
                conditions = ({"question": rows[1].id, "op": "equals", "value": "ja"},) if k == CONDITIONAL else ()
                rows.append(await questionnaires.add_question(
                    s, q, kind, _texts(title, title, title), required=kind not in ("block", "long_text"),
                    options=_options(*options), rows=_options(*matrix_rows), settings=settings,
                    conditions=conditions))
            await questionnaires.publish(s, q)
            q_id = q.id
        for first in range(0, scale.respondents + extra, 100):
            async with transaction(sessions) as s:
                for i in range(first, min(scale.respondents + extra, first + 100)):
                    await actors.create_user(s, uris, f"einwohner{i}", PASSWORD, f"Einwohner {i}",
                                             credentials=credentials)
        answers = 0
        yes = set(rng.sample(range(scale.respondents), scale.conditional))
        for i in range(scale.respondents):
            async with transaction(sessions) as s:
                q = await s.get(Questionnaire, q_id)
                user = await actors.user_by_username(s, f"einwohner{i}")
                values = values_for(rng, rows, i in yes)
                await questionnaires.submit(s, uris_settings, q, user, values, language=LANGUAGES[i % 3])
                answers += len(values)
    finally:
        await engine.dispose()
    return Seeded(q_id, rows, answers, [f"einwohner{i}" for i in range(scale.respondents, scale.respondents + extra)])


# --- the raw baselines -----------------------------------------------------------------------------

ANSWERS_SQL = ("SELECT r.id, a.question_id, a.text FROM questionnaire_answers a JOIN questionnaire_responses r "
               "ON r.id = a.response_id WHERE r.questionnaire_id = :q ORDER BY r.id")
COUNTS_SQL = ("SELECT a.question_id, a.text, count(*) FROM questionnaire_answers a JOIN questionnaire_responses r "
              "ON r.id = a.response_id WHERE r.questionnaire_id = :q GROUP BY a.question_id, a.text "
              "ORDER BY a.question_id, count(*) DESC")


async def raw_csv(conn, questionnaire_id: int, question_ids: list[int]) -> bytes:
    """The least an export can do: one SELECT of the answers' exported texts, one row per response."""
    out, row, current = io.StringIO(), {}, None
    writer = csv.writer(out)
    writer.writerow(["response", *question_ids])
    for response_id, question_id, value in (await conn.execute(text(ANSWERS_SQL), {"q": questionnaire_id})).all():
        if response_id != current and current is not None:
            writer.writerow([current, *(row.get(q, "") for q in question_ids)])
            row = {}
        current, row[question_id] = response_id, value
    if current is not None:
        writer.writerow([current, *(row.get(q, "") for q in question_ids)])
    return out.getvalue().encode()


def serve_raw(port: int, url: str, questionnaire_id: int, question_ids: list[int], ready) -> None:
    """A minimal aiohttp server on the same database: /results (one GROUP BY, a jinja2 table of the
    counts) and /export.csv (raw_csv)."""
    engine = create_engine(url)

    async def results(_request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(COUNTS_SQL), {"q": questionnaire_id})).all()
        grouped: dict[int, list] = {}
        for question_id, value, n in rows:
            grouped.setdefault(question_id, []).append((value[:80], n))
        return web.Response(text=RAW.render(title="Lahr 2035", results=list(grouped.items())), content_type="text/html")

    async def export(_request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            return web.Response(body=await raw_csv(conn, questionnaire_id, question_ids), content_type="text/csv")

    app = web.Application()
    app.router.add_get("/results", results)
    app.router.add_get("/export.csv", export)
    ready.set()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --- measuring -------------------------------------------------------------------------------------

async def service_calls(url: str, questionnaire_id: int, n: int, export) -> Timed:
    """``export(session, questionnaire)`` ``n`` times, a new session each (as a request has)."""
    engine = create_engine(url)
    sessions, seconds, body = session_factory(engine), [], b""
    try:
        for _ in range(n):
            began = time.perf_counter()
            async with sessions() as s:
                q = await s.get(Questionnaire, questionnaire_id)
                body = await export(s, q)
            seconds.append(time.perf_counter() - began)
    finally:
        await engine.dispose()
    return Timed(seconds, Counter({200: n}), body if isinstance(body, bytes) else str(body).encode())


async def _results(session, q) -> bytes:
    """questionnaires.results, what the results page computes before it renders."""
    return repr(await questionnaires.results(session, q)).encode()


async def raw_calls(url: str, questionnaire_id: int, question_ids: list[int], n: int) -> Timed:
    engine = create_engine(url)
    seconds, body = [], b""
    try:
        for _ in range(n):
            began = time.perf_counter()
            async with engine.connect() as conn:
                body = await raw_csv(conn, questionnaire_id, question_ids)
            seconds.append(time.perf_counter() - began)
    finally:
        await engine.dispose()
    return Timed(seconds, Counter({200: n}), body)


# --- new responses through the form ------------------------------------------------------------------

FIELD = "q{id}"  # the form's field of a question (web/participation/questionnaires.py); rows: q{id}.{row}


def answer_form(questions: list, values: dict[int, object], token: str) -> list[tuple[str, str]]:
    """The form a browser sends for ``values``: one field per question, repeated for lists, one
    per matrix row."""
    form = [("csrf_token", token)]
    for question in questions:
        value = values.get(question.id)
        if value is None:
            continue
        name = FIELD.format(id=question.id)
        if isinstance(value, dict):
            form += [(f"{name}.{row}", column) for row, columns in value.items() for column in columns]
        elif isinstance(value, list):
            if question.kind == "ranking":  # each option's rank
                form += [(f"{name}.{key}", str(rank)) for rank, key in enumerate(value, 1)]
            else:
                form += [(name, key) for key in value]
        else:
            form.append((name, str(value)))
    return form


@dataclass
class Respondent:
    username: str
    cookie: str = ""
    token: str = ""


async def sign_in(base: str, form_url: str, usernames: list[str]) -> tuple[list[Respondent], Counter]:
    people, statuses = [], Counter()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        for name in usernames:
            person = Respondent(name, await login(http, base, name))
            async with http.get(form_url, headers={"Cookie": f"{COOKIE}={person.cookie}"}) as response:
                statuses[response.status] += 1
                found = CSRF.search(await response.text())
                person.token = found.group(1) if found else ""
            people.append(person)
    return people, statuses


@dataclass
class Mix:
    """One run of the live mix: responses sent, and what the admin read meanwhile."""
    sent: object  # bench.load.Sent
    seconds: float
    reads: Timed
    answers: int  # answers in the responses answered 303


async def live_mix(url: str, form_url: str, admin: str, seeded: Seeded, scale: Scale, people: list[Respondent],
                   fresh: bool) -> Mix:
    """Responses at RESPONSE_RATE a second through the form (open loop, bench/load.py's
    ``steady``), each by one of ``people``, while the admin GETs ``url`` one request after another
    (``fresh``: a new URL each time), until the responses are answered."""
    rng, done, answered = random.Random(35), asyncio.Event(), [0]
    forms = []
    for k, person in enumerate(people):
        values = values_for(rng, seeded.questions, k % 4 == 0)
        forms.append((answer_form(seeded.questions, values, person.token), len(values)))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        async def send(k: int) -> int:
            form, count = forms[k]
            async with http.post(form_url, data=form, allow_redirects=False,
                                 headers={"Cookie": f"{COOKIE}={people[k].cookie}"}) as response:
                await response.read()
                if response.status == 303:
                    answered[0] += count
                return response.status

        reads = asyncio.create_task(gets(http, url, 0, admin, fresh=fresh, until=done))
        began = time.perf_counter()
        sent = await steady(RESPONSE_RATE, scale.mix_seconds, send)
        seconds = time.perf_counter() - began
        done.set()
        return Mix(sent, seconds, await reads, answered[0])


async def stored(url: str, questionnaire_id: int) -> tuple[int, int, int]:
    """(responses, answers, the questionnaire's response_count) as stored."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            responses = (await conn.execute(select(func.count()).select_from(QuestionnaireResponse).where(
                QuestionnaireResponse.questionnaire_id == questionnaire_id))).scalar_one()
            answers = (await conn.execute(select(func.count()).select_from(Answer).join(
                QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id).where(
                QuestionnaireResponse.questionnaire_id == questionnaire_id))).scalar_one()
            count = (await conn.execute(select(Questionnaire.response_count).where(
                Questionnaire.id == questionnaire_id))).scalar_one()
    finally:
        await engine.dispose()
    return responses, answers, count


def csv_problems(body: bytes, responses: int, label: str) -> list[str]:
    """The export holds a header and one row per response, and no account name."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    problems = []
    if len(rows) - 1 != responses:
        problems.append(f"{label}: {len(rows) - 1} rows for {responses} responses")
    if b"einwohner" in body or ADMIN.encode() in body:
        problems.append(f"{label}: an account name is in the export")
    return problems


# --- the command ---------------------------------------------------------------------------------

def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=next((os.environ[k] for k in DB_ENVS if os.environ.get(k)), None),
                        help="a PostgreSQL server to run on (a database of its own; default "
                             f"${DB_ENVS[0]} or ${DB_ENVS[1]}, else SQLite)")
    parser.add_argument("--quick", action="store_true", help="small numbers, nothing written")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--code", help="what code is measured, for the results (default: the checkout's commit)")
    return parser.parse_args()


async def _measure(url: str, base: str, raw: str, node_pid: int, seeded: Seeded, scale: Scale,
                   began: float) -> dict:
    uris = Uris(base)
    urls = {"form": uris.questionnaire_page(ORG, SLUG), "results": uris.questionnaire_page(ORG, SLUG, "results"),
            "export": uris.questionnaire_page(ORG, SLUG, "export.csv")}
    question_ids = [q.id for q in seeded.questions if q.kind != "block"]
    out: dict = {}
    out["service csv"] = await service_calls(url, seeded.questionnaire_id, scale.calls, questionnaire_export.to_csv)
    out["service json"] = await service_calls(url, seeded.questionnaire_id, scale.calls, questionnaire_export.to_json)
    out["raw csv"] = await raw_calls(url, seeded.questionnaire_id, question_ids, scale.calls)
    out["service results"] = await service_calls(url, seeded.questionnaire_id, scale.calls * 3, _results)
    _say(began, "exports through the service measured")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:
        admin = await login(http, base, ADMIN)
        await gets(http, f"{raw}/results", 5)
        out["raw page"] = await gets(http, f"{raw}/results", scale.calls * 5)
        out["raw http csv"] = await gets(http, f"{raw}/export.csv", scale.calls)
        await gets(http, urls["results"], 3, admin)
        cpu = cpu_seconds(node_pid)
        out["uncached"] = await gets(http, urls["results"], scale.calls * 5, admin, fresh=True)
        out["cpu per page"] = (cpu_seconds(node_pid) - cpu) / len(out["uncached"].seconds)
        cpu = cpu_seconds(node_pid)
        out["cached"] = await gets(http, urls["results"], scale.calls * 20, admin)
        out["cpu per cached page"] = (cpu_seconds(node_pid) - cpu) / len(out["cached"].seconds)
        out["http csv"] = await gets(http, urls["export"], scale.calls, admin)
        _say(began, "results page and the export route measured")
        people, out["form pages"] = await sign_in(base, urls["form"], seeded.extra)
        _say(began, f"{len(people)} more residents signed in")
        half = len(people) // 2
        out["mix pages"] = await live_mix(urls["results"], urls["form"], admin, seeded, scale, people[:half], True)
        out["mix exports"] = await live_mix(urls["export"], urls["form"], admin, seeded, scale, people[half:], False)
        out["final csv"] = await gets(http, urls["export"], 1, admin)
    _say(began, "live mix measured")
    return out


async def _bench(ctx, url: str, data_dir: str, scale: Scale, began: float) -> tuple[list[str], bool]:
    node_port, raw_port = free_port(), free_port()
    base, raw = f"http://{HOST}:{node_port}", f"http://{HOST}:{raw_port}"
    extra = 2 * (int(RESPONSE_RATE * scale.mix_seconds) + 2)  # two runs of the live mix
    seeded = await seed(url, base, data_dir, scale, extra)
    seeded_at = time.perf_counter() - began
    _say(began, f"seeded: {scale.respondents} responses, {seeded.answers:,} answers")
    question_ids = [q.id for q in seeded.questions if q.kind != "block"]
    procs = [_start(ctx, serve_node, node_port, url, data_dir),
             _start(ctx, serve_raw, raw_port, url, seeded.questionnaire_id, question_ids)]
    try:
        await wait_up(f"{base}/.well-known/nodeinfo")
        await wait_up(f"{raw}/results")
        out = await _measure(url, base, raw, procs[0].pid, seeded, scale, began)
        memory = memory_mb(procs[0].pid)
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    out["stored"] = await stored(url, seeded.questionnaire_id)
    return _lines(out, seeded, scale, seeded_at, memory)


def _lines(out: dict, seeded: Seeded, scale: Scale, seeded_at: float,
           memory: tuple[float, float]) -> tuple[list[str], bool]:
    responses, answers, count = out["stored"]
    pages_mix, exports_mix = out["mix pages"], out["mix exports"]
    arrived = pages_mix.sent.ok(303) + exports_mix.sent.ok(303)
    problems = csv_problems(out["service csv"].body, scale.respondents, "service CSV")
    problems += csv_problems(out["http csv"].body, scale.respondents, "HTTP CSV")
    problems += csv_problems(out["final csv"].body, responses, "HTTP CSV after the live mix")
    if not responses == count == scale.respondents + arrived:
        problems.append(f"{responses} responses stored, response_count {count}, expected "
                        f"{scale.respondents} + {arrived} answered")
    if answers != seeded.answers + pages_mix.answers + exports_mix.answers:
        problems.append(f"{answers:,} answers stored, expected {seeded.answers:,} + "
                        f"{pages_mix.answers + exports_mix.answers:,}")
    export_times = out["service csv"].seconds + out["http csv"].seconds + exports_mix.reads.seconds
    export_met = max(export_times) < GOAL_EXPORT_S and not any(
        s != 200 for t in (out["http csv"], exports_mix.reads) for s in t.statuses)
    uncached = [t * 1000 for t in out["uncached"].seconds]
    mixed = [t * 1000 for t in pages_mix.reads.seconds]
    render_met = (statistics.median(uncached) <= GOAL_RENDER_MS and statistics.median(mixed) <= GOAL_RENDER_MS
                  and set(out["uncached"].statuses) == {200} and set(pages_mix.reads.statuses) <= {200})
    raw_page = statistics.median(out["raw page"].seconds) * 1000
    lines = [
        f"data: one questionnaire (fr/de/en, a title block and {len(QUESTIONS) - 1} questions: texts, choices, "
        f"a ranking, scales, matrices; one shown by a condition), {scale.respondents} responses through "
        f"questionnaires.submit: {seeded.answers:,} answers (seeded in {seeded_at:.0f} s with the accounts)",
        out["raw csv"].line("raw CSV, one SELECT + csv.writer (in this process)", unit="s"),
        out["service csv"].line("questionnaire_export.to_csv, a new session each (in this process)", unit="s")
        + f" — {statistics.median(out['service csv'].seconds) / statistics.median(out['raw csv'].seconds):.1f}× "
        f"the raw time; {len(out['service csv'].body):,} bytes",
        out["service json"].line("questionnaire_export.to_json (in this process)", unit="s"),
        out["raw http csv"].line("raw CSV over HTTP (minimal aiohttp handler)", unit="s"),
        out["http csv"].line("the node's export route, the admin signed in", unit="s"),
        f"goal: the CSV export under {GOAL_EXPORT_S:.0f} s, every call (service, route, and during the live mix) — "
        + ("met" if export_met else "NOT met") + f" (slowest {max(export_times):.2f} s)",
        out["service results"].line("questionnaires.results (what the results page computes first), a new "
                                    "session each (in this process)"),
        out["raw page"].line("raw results page over HTTP (one GROUP BY, a jinja2 table), one connection"),
        out["uncached"].line("the node's results page, the admin, a new URL each request (uncached), one connection")
        + f", p99 {pct(out['uncached'].seconds, .99):.0f} ms; {out['cpu per page'] * 1000:.0f} ms of web-process "
        f"CPU per page; {statistics.median(uncached) / raw_page:.1f}× the raw page's time",
        out["cached"].line("the same URL again (what a page cache may serve), one connection")
        + f", p99 {pct(out['cached'].seconds, .99):.1f} ms; {out['cpu per cached page'] * 1000:.0f} ms of web-process "
        "CPU per page" + (" — as much as uncached: the node keeps no rendering of this admins-only page"
                          if out["cpu per cached page"] > 0.5 * out["cpu per page"] else " (served from the page cache)"),
        f"live mix, {scale.mix_seconds:.0f} s: {pages_mix.sent.summary(303, pages_mix.seconds, 'responses through the form')}, "
        f"each by a resident signed in for it (form pages: {dict(out['form pages'])}); meanwhile the admin reads, "
        "one request after another:",
        pages_mix.reads.line("  the results page, uncached") + f", p99 {pct(pages_mix.reads.seconds, .99):.0f} ms",
        f"live mix, {scale.mix_seconds:.0f} s more: "
        f"{exports_mix.sent.summary(303, exports_mix.seconds, 'responses through the form')}; meanwhile the admin "
        "exports, one request after another:",
        exports_mix.reads.line("  the CSV export route", unit="s"),
        f"goal: the results page renders in ≤ {GOAL_RENDER_MS:.0f} ms uncached (median, quiet and during the "
        "live mix) — " + ("met" if render_met else "NOT met")
        + ("" if max(pct(out["uncached"].seconds, .99), pct(pages_mix.reads.seconds, .99)) <= GOAL_RENDER_MS
           else f"; p99 above {GOAL_RENDER_MS:.0f} ms"),
        f"stored at the end: {responses} responses, {answers:,} answers, response_count {count}; "
        + ("the exports hold one row per response and no account name" if not problems
           else "PROBLEMS: " + "; ".join(problems)),
        f"memory: the node's peak RSS (VmHWM) {memory[0]:.0f} MB ({memory[1]:.0f} MB at the end; the "
        f"{len(seeded.extra) + 1} log-ins verify argon2, 64 MiB each, one at a time); this process (seeding, "
        f"service exports, load) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
    ]
    return lines, export_met and render_met and not problems


def main() -> None:
    args = _arguments()
    scale = QUICK if args.quick else FULL
    began, load_before = time.perf_counter(), _load_average()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir, \
            bench_processes.run_database(args.database_url, data_dir, "node.db") as (url, backend):
        lines, ok = asyncio.run(_bench(ctx, url, data_dir, scale, began))
    head = [f"node: {backend}, its app in one process (as `civic serve`), the raw server in another, the load in "
            f"a third, on the same {os.cpu_count()} cores (load average {load_before} before, {_load_average()} "
            f"after: other work on the machine counts); whole command {time.perf_counter() - began:.0f} s",
            f"code measured: {args.code or _code()}"]
    print("\n".join(head + lines))
    if args.quick or args.no_record:
        print("(--quick or --no-record: not written to bench/RESULTS.md)")
    else:
        append(f"A questionnaire with 8,300 answers ({backend}) (bench/bench_questionnaire.py)", head + lines)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
