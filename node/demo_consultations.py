"""Demo questionnaire, poll and participatory budget for `civic demo` / `make run` (fr/en/de).

Lyon asks the residents of the Clos Jouve how they use the square (a questionnaire with a display
condition, and a poll in the discussion); Nice runs a €50,000 participatory budget in its voting
phase, as Künzelsau did, with projects reviewed and a few ballots already cast.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from node.models import Actor, Discussion, User, utcnow
from node.services import (
    budget_ballots,
    budget_projects,
    budgets,
    membership,
    polls,
    questionnaires,
)
from node.uris import Uris


def _t(fr: str, en: str, de: str) -> dict:
    return {"fr": fr, "en": en, "de": de}


def _options(*labels: tuple[str, str, str, str]) -> list[dict]:
    return [{"key": key, "label": _t(fr, en, de)} for key, fr, en, de in labels]


async def _user(session: AsyncSession, actor: Actor) -> User:
    return await session.scalar(select(User).where(User.actor_id == actor.id))


async def _questionnaire(session: AsyncSession, lyon: Actor, clos: Discussion, people: dict,
                         data_dir: Path) -> None:
    q = await questionnaires.create(
        session, lyon, "usages-clos-jouve",
        _t("Vos usages de la place du Clos Jouve", "How you use the Clos Jouve square",
           "Wie Sie den Platz Clos Jouve nutzen"),
        description=_t("Dix minutes pour nous dire comment vous vivez la place aujourd'hui.",
                       "Ten minutes to tell us how you live the square today.",
                       "Zehn Minuten, um uns zu sagen, wie Sie den Platz heute erleben."),
        languages=("fr", "en", "de"), discussion=clos)
    often = await questionnaires.add_question(
        session, q, "single", _t("À quelle fréquence traversez-vous la place ?",
                                 "How often do you cross the square?",
                                 "Wie oft überqueren Sie den Platz?"), required=True,
        options=_options(("daily", "Tous les jours", "Every day", "Jeden Tag"),
                         ("weekly", "Chaque semaine", "Every week", "Jede Woche"),
                         ("rarely", "Rarement", "Rarely", "Selten")))
    await questionnaires.add_question(
        session, q, "short_text", _t("À quelle heure, le plus souvent ?", "At what time, mostly?",
                                     "Zu welcher Uhrzeit meistens?"),
        conditions=[{"question": often.id, "op": "equals", "value": "daily"}])
    await questionnaires.add_question(
        session, q, "multiple", _t("Que voudriez-vous y trouver ? (trois au plus)",
                                   "What would you like to find there? (three at most)",
                                   "Was möchten Sie dort finden? (höchstens drei)"),
        options=_options(("trees", "Des arbres", "Trees", "Bäume"),
                         ("benches", "Des bancs", "Benches", "Bänke"),
                         ("play", "Une aire de jeux", "A playground", "Einen Spielplatz"),
                         ("market", "Un marché", "A market", "Einen Markt")),
        settings={"min_choices": 1, "max_choices": 3})
    satisfied = await questionnaires.add_question(
        session, q, "scale", _t("Êtes-vous satisfait·e de la place aujourd'hui ?",
                                "Are you satisfied with the square today?",
                                "Sind Sie heute mit dem Platz zufrieden?"),
        settings={"min": 1, "max": 5})
    await questionnaires.add_question(
        session, q, "long_text", _t("Qu'est-ce qui vous gêne le plus ?", "What bothers you most?",
                                    "Was stört Sie am meisten?"),
        conditions=[{"question": satisfied.id, "op": "answered"}])
    await questionnaires.publish(session, q)
    answers = [("camille", "daily", "8h", ["trees", "benches"], 2, "Le bruit des voitures."),
               ("henry", "weekly", None, ["market"], 4, "Rien de particulier."),
               ("chloe", "daily", "18h", ["trees", "play"], 3, "Le manque d'ombre l'été.")]
    for handle, how, when, wants, score, bother in answers:
        by_kind = {question.kind: question for question in await questionnaires.questions(session, q)}
        values = {often.id: how, by_kind["multiple"].id: wants, satisfied.id: score,
                  by_kind["long_text"].id: bother}
        if when:
            values[by_kind["short_text"].id] = when
        await questionnaires.submit(session, data_dir, q, await _user(session, people[handle]), values)


async def _poll(session: AsyncSession, uris: Uris, lyon: Actor, clos: Discussion, people: dict) -> None:
    poll = await polls.create(
        session, uris, lyon, lyon, "<p>Faut-il rendre la place piétonne le dimanche ?</p>",
        ["Oui", "Non", "Seulement l'été"], end_time=utcnow() + timedelta(days=14), discussion=clos,
        language="fr")
    for handle, choice in (("camille", "Oui"), ("henry", "Seulement l'été"), ("amine", "Oui")):
        await polls.vote(session, uris, poll, people[handle], [choice])


PROJECTS = [  # (title, body, cost, feasible, estimate, reason)
    ("Des fontaines à eau dans les parcs", "<p>Dix fontaines d'eau potable dans les parcs du centre.</p>",
     12000, True, 14000, "Faisable : raccordements existants ; estimation des services de l'eau."),
    ("Un jardin partagé à Carros", "<p>Un jardin de 400 m² avec cabane et récupérateur d'eau.</p>",
     8000, True, None, "Faisable sur le terrain communal de la rue des Lilas."),
    ("Des abris vélos sécurisés", "<p>Cinq abris fermés près des gares.</p>",
     20000, True, 18000, "Faisable ; le coût comprend la pose."),
    ("Éclairage solaire du sentier du littoral", "<p>Quarante bornes solaires sur deux kilomètres.</p>",
     25000, True, None, "Faisable avec l'accord du Conservatoire du littoral."),
    ("Une boîte à livres par quartier", "<p>Douze boîtes à livres fabriquées par le lycée professionnel.</p>",
     3000, True, None, "Faisable."),
    ("Un téléphérique vers le haut pays", "<p>Relier la vallée aux villages du haut pays.</p>",
     900000, False, None, "Hors budget : le coût dépasse de loin l'enveloppe, et la compétence est régionale."),
]


async def _budget(session: AsyncSession, uris: Uris, nice: Actor, admin: User, people: dict) -> None:
    budget = await budgets.create(
        session, uris, nice, "budget-participatif-2027",
        _t("Budget participatif 2027", "Participatory budget 2027", "Bürgerhaushalt 2027"), 50000,
        description=_t("50 000 € pour des projets proposés et choisis par les habitants.",
                       "€50,000 for projects proposed and chosen by residents.",
                       "50 000 € für Projekte, die die Bewohner vorschlagen und auswählen."))
    await budgets.set_phase(session, budget, "proposing")
    authors = ["camille", "lena", "paul", "amine", "chloe", "henry"]
    made = []
    for (title, body, cost, feasible, estimate, reason), handle in zip(PROJECTS, authors, strict=True):
        project = await budget_projects.propose(session, uris, budget, people[handle], title, body, cost=cost,
                                        language="fr")
        await budget_projects.review(session, project, feasible=feasible, reason=reason,
                             cost_estimate=estimate, by=admin)
        made.append(project)
    await budgets.set_phase(session, budget, "reviewing")
    await budgets.set_phase(session, budget, "voting", voting_ends_at=utcnow() + timedelta(days=21))
    for handle, chosen in (("lena", [0, 1, 4]), ("paul", [2, 3, 4]), ("amine", [0, 2, 4])):
        voter = await _user(session, people[handle])
        await membership.admit(session, nice, voter, admin, "démo")
        await budget_ballots.cast(session, budget, voter, [made[i].id for i in chosen])


async def seed_consultations(session: AsyncSession, uris: Uris, orgs: dict[str, Actor], people: dict,
                             admins: dict[str, User], data_dir: Path) -> None:
    """The demo's questionnaire and poll (Lyon, Clos Jouve) and participatory budget (Nice)."""
    clos = await session.scalar(select(Discussion).where(Discussion.organization_id == orgs["lyon"].id,
                                                         Discussion.slug == "clos-jouve"))
    await _questionnaire(session, orgs["lyon"], clos, people, data_dir)
    await _poll(session, uris, orgs["lyon"], clos, people)
    await _budget(session, uris, orgs["nice"], admins["nice"], people)
