"""The default privacy and legal notices (fr, en, de): what this node's code stores, truthfully.

Each privacy section says what a group of tables holds; ``PERSONAL_TABLES`` names those tables, so
tests/node/test_legal.py fails when a table is added to the models without being classified here
(said in a section, or listed in ``NOT_PERSONAL`` with the reason). Placeholders in braces are
filled by node.services.legal from the node's settings. Texts use the notices' plain-text format:
``# `` starts a heading, ``- `` a list item, a blank line a paragraph; bare http(s) addresses link.
"""

from __future__ import annotations

# The sections of the privacy notice, in the order they are shown.
SECTIONS = ("about", "account", "participation", "consultations", "organisations", "remote", "logs", "moderation",
            "retention", "cookies", "elsewhere", "federation", "rights")

# The tables whose rows can name or describe a person, by the section that says what they hold.
PERSONAL_TABLES: dict[str, tuple[str, ...]] = {
    "account": ("users", "actors", "account_states"),
    "participation": ("contributions", "agreements", "proposals", "proposal_supports",
                      "proposal_state_changes", "articles", "initiatives", "initiative_actions",
                      "follows", "discussions", "activities", "variant_supports", "campaign_supports"),
    "consultations": ("questionnaire_responses", "questionnaire_answers", "questionnaire_participants",
                      "poll_votes", "poll_voters", "polls", "budget_ballots", "budget_ballot_projects",
                      "budget_projects", "budget_project_supports", "budget_project_comments"),
    "organisations": ("memberships", "stakeholders", "member_verifications", "census_entries",
                      "verification_codes", "coalitions", "coalition_members", "campaigns",
                      "campaign_variants"),
    "remote": ("actors", "notes", "contributions", "inbox_activities"),
    "logs": ("inbox_activities", "inbox_refusals", "outbox_events", "deliveries", "rate_counters"),
    "moderation": ("reports", "moderation_log", "hidden_content", "account_restrictions",
                   "proposals", "legal_texts"),
}

# Tables that hold nothing about a person, and why.
NOT_PERSONAL: dict[str, str] = {
    "organization_profiles": "an organisation's public page (texts, colours, logo)",
    "spaces": "participatory processes of organisations",
    "phases": "dated steps of those processes",
    "daily_visits": "page views per day, counted without cookies or addresses",
    "domain_blocks": "remote domains this node refuses",
    "domain_allows": "remote domains this node federates with in allow-list mode",
    "moderation_settings": "an organisation's pre-moderation setting",
    "verification_salts": "an organisation's random salt for census and code hashes",
    "campaign_tallies": "a campaign's number of supports per member organisation and language",
    "campaign_days": "a campaign's number of supports per day",
    "questionnaires": "an organisation's questionnaires: texts, dates and settings",
    "questions": "the questions of those questionnaires, their choices and conditions",
    "poll_options": "a poll's options and their number of votes",
    "budgets": "an organisation's participatory budgets: amounts, rules, phases and results",
    "budget_districts": "the districts of a budget and their amounts",
}

PRIVACY: dict[str, dict[str, str]] = {}
LEGAL: dict[str, str] = {}
# Phrases of the retention section: a number of days, or "kept" when the setting is off (0).
RETENTION: dict[str, dict[str, str]] = {}

# -- English -----------------------------------------------------------------------------------

PRIVACY["en"] = {
    "about": """\
This notice says what {instance_name} ({base_url}) stores about you, who sees it, what it sends to \
other servers and for how long it keeps it. It describes what the Civic Node software of this \
server does; the administrator of this server may complete it. Who publishes this server and how \
to reach them is in the legal notice: {base_url}/legal""",
    "account": """\
# Your account

If you create an account, this server stores:

- your handle and the display name you chose (a pseudonym is fine), shown with what you publish;
- your e-mail address, only if you gave one (no page shows it and it is never sent to other \
servers; this server's administrators can see it);
- your password as an argon2 hash, never the password itself;
- when the account was created, whether it waits for an administrator's approval, and a session \
counter that ends every session of the account when you log out or change your password;
- a pair of keys that signs what your account sends to other servers (the private key never leaves \
this server).""",
    "participation": """\
# What you do here

Your contributions and replies (with the position you chose: for, neutral or against), the \
proposals you submit and the history of their states, the articles, reports, initiatives and \
citizen discussions you add, your agreements ("Agree"), your supports of proposals, your "I \
acted", who and what you follow and who follows you, and the activities this server published \
for you. They are shown with your pseudonym to the readers the discussion or space allows.

When you support a coalition's campaign, or an organisation's version of it, the address of your \
account (nothing else) is sent to the server that hosts the coalition, which counts each person \
once; taking the support back, or erasing your account, takes it back there too.""",
    "organisations": """\
# Organisations

Your roles in an organisation (admin, moderator, official, ambassador, member) and when you got \
them; an organisation's admins and moderators are listed publicly, here and on other servers, as \
the moderators of its discussions. If an organisation verifies its members, your verification record (how: by an admin, a \
census entry or a one-time code; when; by whom; and the identity it shows: the identifier you \
typed, the label of the code you were given or the admin's note) is seen only by that \
organisation's admins: everyone else sees your pseudonym. Census lists are stored only as salted \
hashes, one-time codes only as hashes. An organisation may also list you as a key stakeholder of a \
discussion, with a short description.

Coalitions of organisations, the organisations in them, their campaigns and the organisations' \
versions of those campaigns are about organisations, not people; they are public as the \
coalition's visibility allows, and shared with the servers of its member organisations.""",
    "remote": """\
# Copies of content from other servers

This server keeps the public profiles of the fediverse accounts it meets, as their servers \
publish them (name, handle, biography, addresses, public key), the posts and contributions they send to its discussions and organisations \
or address to its accounts, and the activities as they were received.""",
    "logs": """\
# Logs

- activities received from other servers (who sent them, what they said, whether they were \
processed) and the requests refused, with their reason;
- what this server sent to other servers: to which inbox, when, and with what result;
- rate-limit counters, which hold the IP address (an IPv6 address by its /64) or the handle being \
counted, for two windows of the limit (a few hours at most), to stop password guessing and floods.

This server writes no log of the pages you read. Visits to organisation and discussion pages are \
counted per day, without cookies and without addresses. The web server in front of it (a reverse \
proxy) may keep its own access logs, with addresses; if it does, the administrator should say so \
in this notice.""",
    "moderation": """\
# Moderation

Reports (who filed them, about what, why), the moderation log (which moderator did what, to what, \
why and when), content hidden or held for review with its reason, and remote accounts blocked or \
silenced. Reports are seen by the moderators of the organisation concerned and by the \
administrators of this server; a report forwarded to another server never names who filed it. The \
records of what administrators did (an official answer to a proposal, a change to these notices) \
name who did it. A moderator's name stays in the moderation log after their account is deleted, \
until the log is removed (see below).""",
    "retention": """\
# How long

Your account and what you published stay until you delete them. {remote_retention} \
{log_retention} These periods are settings of this server (retention_remote_days, \
retention_log_days), applied each time its administrator runs "civic retention apply".""",
    "cookies": """\
# Cookies

One session cookie (civic_session, valid {session_days} days), set from your first visit: it keeps \
you logged in, and the anti-forgery token of every form (the language switcher's too) is derived \
from it. Until you log in it holds only a random value, no identifier. If you choose a language with the switcher, a "lang" cookie remembers it for a year. There is no \
tracking, advertising or statistics cookie.""",
    "elsewhere": """\
# Nothing from other sites

Pages load nothing from other sites: no fonts, scripts, images, videos, maps or statistics from \
elsewhere. Your browser talks only to this server while you read it.""",
    "federation": """\
# What goes to other servers

This server is part of the fediverse. What you publish in a public, unlisted or followers-only \
discussion or space (contributions, proposals, articles, initiatives) and your agreements, \
supports and "I acted" there, with your pseudonym and your public profile, are sent to the \
servers of the accounts that follow you, the organisation or the discussion, and to the server \
of the author you answer or agree with; they keep copies and show them under their own rules. Content \
for members only never leaves this server. When you delete something, or your account, this \
server sends a Delete to every server that received a copy; they are expected to remove it, but \
this server cannot force them to.""",
    "rights": """\
# Your rights

- Access: download all your data (a JSON file) with "Download my data" on your account page, \
{base_url}/account; the administrator can also export it (civic user export).
- Erasure: delete your account on your account page (or ask the administrator: civic user \
delete). Your contributions, proposals, articles and initiatives are then shown as deleted, \
without text or name; your agreements and supports stay counted with no link to you; your e-mail \
address, password, follows and roles are removed; your handle stays reserved so that nobody can \
take it to pass for you; every server that received a copy is sent a Delete.
- For anything else (correcting, objecting, a question), contact the administrator: see the legal \
notice, {base_url}/legal""",
}

LEGAL["en"] = """\
This site, {instance_name} ({base_url}), runs Civic Node, free software for citizen participation \
(licence AGPL-3.0-or-later).

# To be completed by the administrator

The administrator of this server must complete this notice with:

- the publisher: name and address (for an organisation: its legal form, registered office and \
registration number) and the person responsible for publication;
- the host: name, address and telephone number of the company that hosts the server;
- a contact: an e-mail address or another way to reach the publisher.

# Content

What residents and organisations publish is theirs and under their responsibility; organisations' \
moderators may hide it with a reason. Report a problem with "Report" next to it.

# Personal data

See the privacy notice: {base_url}/privacy"""

RETENTION["en"] = {
    "remote_days": "Copies of posts from other servers whose author nobody here follows and that "
                   "nobody here answered are removed after {days} days; contributions to discussions "
                   "stay, as the record of the consultation.",
    "remote_kept": "Copies of content from other servers are kept; contributions to discussions stay "
                   "in any case, as the record of the consultation.",
    "log_days": "Logs (activities received, refusals, finished deliveries, the moderation log) are "
                "removed after {days} days, except the list of servers that received a text still "
                "online, which is needed to send them its deletion.",
    "log_kept": "Logs (activities received, refusals, deliveries, the moderation log) are kept; only "
                "the newest 10,000 refusals are.",
}

# -- Français ----------------------------------------------------------------------------------

PRIVACY["fr"] = {
    "about": """\
Cette politique dit ce que {instance_name} ({base_url}) enregistre à votre sujet, qui le voit, ce \
qui est envoyé à d'autres serveurs et combien de temps c'est conservé. Elle décrit ce que fait le \
logiciel Civic Node de ce serveur ; l'administrateur ou l'administratrice de ce serveur peut la \
compléter. Qui publie ce serveur et comment le joindre : voir les mentions légales, {base_url}/legal""",
    "account": """\
# Votre compte

Si vous créez un compte, ce serveur enregistre :

- votre identifiant et le nom affiché que vous avez choisi (un pseudonyme convient), montrés avec ce \
que vous publiez ;
- votre adresse e-mail, seulement si vous l'avez donnée (aucune page ne l'affiche et elle n'est \
jamais envoyée à d'autres serveurs ; les administrateurs de ce serveur peuvent la voir) ;
- votre mot de passe sous forme d'empreinte argon2, jamais le mot de passe lui-même ;
- la date de création du compte, s'il attend l'approbation d'un administrateur, et un compteur de \
sessions qui met fin à toutes les sessions du compte quand vous vous déconnectez ou changez de mot \
de passe ;
- une paire de clés qui signe ce que votre compte envoie aux autres serveurs (la clé privée ne \
quitte jamais ce serveur).""",
    "participation": """\
# Ce que vous faites ici

Vos contributions et réponses (avec la position choisie : pour, neutre ou contre), les \
propositions que vous déposez et l'historique de leurs états, les articles, rapports, initiatives \
et discussions citoyennes que vous ajoutez, vos accords (« D'accord »), vos soutiens aux \
propositions, vos « J'ai agi », qui et ce que vous suivez et qui vous suit, et les activités que ce \
serveur a publiées pour vous. Ils sont montrés avec votre pseudonyme aux lecteurs que la \
discussion ou l'espace autorise.

Quand vous soutenez la campagne d'une coalition, ou la version d'une organisation, l'adresse de \
votre compte (et rien d'autre) est envoyée au serveur qui héberge la coalition, qui compte chaque \
personne une fois ; retirer le soutien, ou effacer votre compte, le retire là-bas aussi.""",
    "organisations": """\
# Organisations

Vos rôles dans une organisation (administration, modération, élu·e ou agent·e, ambassadeur, membre) \
et depuis quand ; les administrateurs et modérateurs d'une organisation sont affichés \
publiquement, ici et sur d'autres serveurs, comme modérateurs de ses discussions. Si une \
organisation vérifie ses membres, votre fiche de vérification (comment : par un administrateur, \
une entrée du registre ou un code à usage unique ; quand ; par qui ; et l'identité qu'elle \
montre : le numéro d'identification que vous avez saisi, le libellé du code qui vous a été remis \
ou la note de l'administrateur) n'est vue que par les administrateurs de cette organisation : \
tous les autres voient votre pseudonyme. Les registres importés ne sont conservés que sous forme \
d'empreintes salées, les codes à usage unique sous forme d'empreintes. Une organisation peut \
aussi vous citer comme acteur clé d'une discussion, avec une courte description.

Les coalitions d'organisations, les organisations qui en font partie, leurs campagnes et les \
versions de ces campagnes par les organisations concernent des organisations, pas des personnes ; \
elles sont publiques autant que la visibilité de la coalition le permet, et partagées avec les \
serveurs de ses organisations membres.""",
    "remote": """\
# Copies de contenus d'autres serveurs

Ce serveur conserve les profils publics des comptes du fédivers qu'il rencontre, tels que leurs \
serveurs les publient (nom, identifiant, biographie, adresses, clé publique), les messages et contributions qu'ils envoient à ses discussions \
et organisations ou adressent à ses comptes, et les activités telles qu'elles ont été reçues.""",
    "logs": """\
# Journaux

- les activités reçues d'autres serveurs (qui les a envoyées, ce qu'elles disaient, si elles ont \
été traitées) et les requêtes refusées, avec leur motif ;
- ce que ce serveur a envoyé à d'autres serveurs : à quelle boîte de réception, quand et avec quel \
résultat ;
- des compteurs de limitation de débit, qui contiennent l'adresse IP (une adresse IPv6 par son \
/64) ou l'identifiant compté, pendant deux fenêtres de la limite (quelques heures au plus), pour \
empêcher de deviner les mots de passe et les envois massifs.

Ce serveur ne tient aucun journal des pages que vous lisez. Les visites des pages des \
organisations et des discussions sont comptées par jour, sans cookie et sans adresse. Le serveur \
web placé devant lui (un proxy inverse) peut tenir ses propres journaux d'accès, avec les \
adresses ; si c'est le cas, l'administrateur doit l'indiquer dans ce texte.""",
    "moderation": """\
# Modération

Les signalements (qui les a faits, sur quoi, pourquoi), le journal de modération (quel modérateur a \
fait quoi, sur quoi, pourquoi et quand), les contenus masqués ou retenus pour relecture avec leur \
motif, et les comptes distants bloqués ou mis en sourdine. Les signalements sont vus par les \
modérateurs de l'organisation concernée et par les administrateurs de ce serveur ; un signalement \
transmis à un autre serveur ne nomme jamais son auteur. Les traces de ce que font les \
administrateurs (une réponse officielle à une proposition, une modification de ces textes) \
nomment qui l'a fait. Le nom d'un modérateur reste dans le journal de modération après la \
suppression de son compte, jusqu'à l'effacement du journal (voir ci-dessous).""",
    "retention": """\
# Durée de conservation

Votre compte et ce que vous avez publié sont conservés jusqu'à ce que vous les supprimiez. \
{remote_retention} {log_retention} Ces durées sont des réglages de ce serveur \
(retention_remote_days, retention_log_days), appliqués chaque fois que son administrateur lance \
« civic retention apply ».""",
    "cookies": """\
# Cookies

Un cookie de session (civic_session, valable {session_days} jours), posé dès votre première visite : \
il vous garde connecté·e, et le jeton anti-falsification de chaque formulaire (y compris le \
sélecteur de langue) en est dérivé. Tant que vous n'êtes pas connecté·e, il ne contient qu'une \
valeur aléatoire, aucun identifiant. Si vous choisissez une langue avec le sélecteur, un cookie « lang » la \
retient pendant un an. Il n'y a aucun cookie de pistage, de publicité ou de statistiques.""",
    "elsewhere": """\
# Rien d'autres sites

Les pages ne chargent rien depuis d'autres sites : ni polices, ni scripts, ni images, vidéos, \
cartes ou statistiques venues d'ailleurs. Pendant votre lecture, votre navigateur ne parle qu'à ce \
serveur.""",
    "federation": """\
# Ce qui part vers d'autres serveurs

Ce serveur fait partie du fédivers. Ce que vous publiez dans une discussion ou un espace public, \
non listé ou réservé aux abonnés (contributions, propositions, articles, initiatives) et vos \
accords, soutiens et « J'ai agi », avec votre pseudonyme et votre profil public, sont envoyés aux \
serveurs des comptes qui vous suivent, qui suivent l'organisation ou la discussion, et au serveur \
de l'auteur à qui vous répondez ou avec qui vous êtes d'accord ; ils en gardent une copie et \
l'affichent selon leurs propres règles. Les contenus réservés aux membres ne quittent jamais ce serveur. Quand vous \
supprimez un contenu, ou votre compte, ce serveur envoie une suppression (Delete) à chaque serveur \
qui en a reçu une copie ; ils sont censés l'effacer, mais ce serveur ne peut pas les y obliger.""",
    "rights": """\
# Vos droits

- Accès : téléchargez toutes vos données (un fichier JSON) avec « Télécharger mes données » sur la \
page de votre compte, {base_url}/account ; l'administrateur peut aussi les exporter (civic user \
export).
- Effacement : supprimez votre compte sur la page de votre compte (ou demandez-le à \
l'administrateur : civic user delete). Vos contributions, propositions, articles et initiatives \
apparaissent alors comme supprimés, sans texte ni nom ; vos accords et soutiens restent comptés \
sans aucun lien avec vous ; votre adresse e-mail, votre mot de passe, vos abonnements et vos rôles \
sont effacés ; votre identifiant reste réservé pour que personne ne puisse le prendre et se faire \
passer pour vous ; chaque serveur qui en a reçu une copie reçoit une suppression.
- Pour tout le reste (rectification, opposition, question), contactez l'administrateur : voir les \
mentions légales, {base_url}/legal""",
}

LEGAL["fr"] = """\
Ce site, {instance_name} ({base_url}), fonctionne avec Civic Node, logiciel libre de participation \
citoyenne (licence AGPL-3.0-or-later).

# À compléter par l'administrateur

L'administrateur ou l'administratrice de ce serveur doit compléter ces mentions avec :

- l'éditeur : nom et adresse (pour une personne morale : forme juridique, siège social et numéro \
d'immatriculation) et le ou la responsable de la publication ;
- l'hébergeur : nom, adresse et numéro de téléphone de la société qui héberge le serveur ;
- un contact : une adresse e-mail ou un autre moyen de joindre l'éditeur.

# Contenus

Ce que publient les habitants et les organisations leur appartient et relève de leur \
responsabilité ; les modérateurs des organisations peuvent le masquer en donnant un motif. \
Signalez un problème avec « Signaler » à côté du contenu.

# Données personnelles

Voir la politique de confidentialité : {base_url}/privacy"""

RETENTION["fr"] = {
    "remote_days": "Les copies de messages d'autres serveurs dont personne ici ne suit l'auteur et "
                   "auxquels personne ici n'a répondu sont effacées au bout de {days} jours ; les "
                   "contributions aux discussions restent, comme trace de la concertation.",
    "remote_kept": "Les copies de contenus d'autres serveurs sont conservées ; les contributions aux "
                   "discussions restent de toute façon, comme trace de la concertation.",
    "log_days": "Les journaux (activités reçues, refus, envois terminés, journal de modération) sont "
                "effacés au bout de {days} jours, sauf la liste des serveurs qui ont reçu un texte "
                "encore en ligne, nécessaire pour leur en envoyer la suppression.",
    "log_kept": "Les journaux (activités reçues, refus, envois, journal de modération) sont "
                "conservés ; seuls les 10 000 refus les plus récents sont gardés.",
}

# -- Deutsch -----------------------------------------------------------------------------------

PRIVACY["de"] = {
    "about": """\
Diese Datenschutzerklärung sagt, was {instance_name} ({base_url}) über Sie speichert, wer es sieht, \
was an andere Server geht und wie lange es aufbewahrt wird. Sie beschreibt, was die Software Civic \
Node dieses Servers tut; die Administration dieses Servers kann sie ergänzen. Wer diesen Server \
betreibt und wie Sie ihn erreichen, steht im Impressum: {base_url}/legal""",
    "account": """\
# Ihr Konto

Wenn Sie ein Konto anlegen, speichert dieser Server:

- Ihren Benutzernamen und den gewählten Anzeigenamen (ein Pseudonym genügt), die mit Ihren \
Beiträgen angezeigt werden;
- Ihre E-Mail-Adresse, nur wenn Sie eine angegeben haben (keine Seite zeigt sie, und sie wird nie \
an andere Server gesendet; die Administration dieses Servers kann sie sehen);
- Ihr Passwort als argon2-Hash, nie das Passwort selbst;
- wann das Konto angelegt wurde, ob es auf die Freigabe durch die Administration wartet, und einen \
Sitzungszähler, der alle Sitzungen des Kontos beendet, wenn Sie sich abmelden oder Ihr Passwort \
ändern;
- ein Schlüsselpaar, das signiert, was Ihr Konto an andere Server sendet (der private Schlüssel \
verlässt diesen Server nie).""",
    "participation": """\
# Was Sie hier tun

Ihre Beiträge und Antworten (mit der gewählten Haltung: dafür, neutral oder dagegen), die \
Vorschläge, die Sie einreichen, und der Verlauf ihrer Status, die Artikel, Berichte, Initiativen \
und Bürgerdiskussionen, die Sie hinzufügen, Ihre Zustimmungen („Zustimmen“), Ihre \
Unterstützungen von Vorschlägen, Ihre „Ich habe gehandelt“, wem und was Sie folgen und wer Ihnen \
folgt, sowie die Aktivitäten, die dieser Server für Sie veröffentlicht hat. Sie werden mit Ihrem \
Pseudonym den Lesenden gezeigt, die die Diskussion oder der Bereich zulässt.

Wenn Sie die Kampagne einer Koalition oder die Fassung einer Organisation unterstützen, wird die \
Adresse Ihres Kontos (sonst nichts) an den Server gesendet, der die Koalition beherbergt und jede \
Person einmal zählt; ziehen Sie die Unterstützung zurück oder löschen Sie Ihr Konto, wird sie dort \
ebenfalls zurückgezogen.""",
    "organisations": """\
# Organisationen

Ihre Rollen in einer Organisation (Administration, Moderation, Amtsträger, Botschafter, Mitglied) \
und seit wann; die Administratoren und Moderatoren einer Organisation werden öffentlich, hier und \
auf anderen Servern, als Moderatoren ihrer Diskussionen aufgeführt. Wenn eine Organisation ihre Mitglieder verifiziert, sehen nur die Administratoren \
dieser Organisation Ihren Verifizierungseintrag (wie: durch die Administration, einen Eintrag des \
Verzeichnisses oder einen Einmalcode; wann; durch wen; und die Identität, die er zeigt: die von \
Ihnen eingegebene Kennung, die Bezeichnung des Ihnen übergebenen Codes oder die Notiz der \
Administration); alle anderen sehen Ihr Pseudonym. Verzeichnisse werden nur als gesalzene \
Hashes gespeichert, Einmalcodes nur als Hashes. Eine Organisation kann Sie auch als wichtigen \
Akteur einer Diskussion aufführen, mit einer kurzen Beschreibung.

Koalitionen von Organisationen, ihre Mitgliedsorganisationen, ihre Kampagnen und die Fassungen \
dieser Kampagnen durch die Organisationen betreffen Organisationen, keine Personen; sie sind so \
öffentlich, wie es die Sichtbarkeit der Koalition erlaubt, und werden mit den Servern ihrer \
Mitgliedsorganisationen geteilt.""",
    "remote": """\
# Kopien von Inhalten anderer Server

Dieser Server bewahrt die öffentlichen Profile der Fediverse-Konten auf, denen er begegnet, so wie \
ihre Server sie veröffentlichen (Name, Benutzername, Biografie, Adressen, öffentlicher Schlüssel), \
die Beiträge, die sie an seine Diskussionen \
und Organisationen senden oder an seine Konten richten, und die Aktivitäten so, wie sie empfangen \
wurden.""",
    "logs": """\
# Protokolle

- von anderen Servern empfangene Aktivitäten (wer sie gesendet hat, was sie enthielten, ob sie \
verarbeitet wurden) und abgelehnte Anfragen mit ihrem Grund;
- was dieser Server an andere Server gesendet hat: an welchen Posteingang, wann und mit welchem \
Ergebnis;
- Zähler für Ratenbegrenzungen, die die IP-Adresse (eine IPv6-Adresse nach ihrem /64) oder den \
gezählten Benutzernamen enthalten, für zwei Zeitfenster der Begrenzung (höchstens einige Stunden), \
um das Erraten von Passwörtern und Überflutungen zu verhindern.

Dieser Server protokolliert nicht, welche Seiten Sie lesen. Besuche der Seiten von Organisationen \
und Diskussionen werden pro Tag gezählt, ohne Cookies und ohne Adressen. Der vorgeschaltete \
Webserver (ein Reverse Proxy) kann eigene Zugriffsprotokolle mit Adressen führen; falls ja, muss \
die Administration das in dieser Erklärung angeben.""",
    "moderation": """\
# Moderation

Meldungen (wer sie erstattet hat, worüber, warum), das Moderationsprotokoll (welche Moderatorin \
oder welcher Moderator was, woran, warum und wann getan hat), ausgeblendete oder zur Prüfung \
zurückgehaltene Inhalte mit ihrem Grund sowie gesperrte oder stummgeschaltete entfernte Konten. \
Meldungen sehen die Moderatoren der betroffenen Organisation und die Administration dieses \
Servers; eine an einen anderen Server weitergeleitete Meldung nennt nie, wer sie erstattet hat. \
Aufzeichnungen über Handlungen der Administration (eine offizielle Antwort auf einen Vorschlag, \
eine Änderung dieser Texte) nennen, wer gehandelt hat. Der Name einer Moderatorin oder eines \
Moderators bleibt nach der Löschung des Kontos im Moderationsprotokoll, bis das Protokoll \
gelöscht wird (siehe unten).""",
    "retention": """\
# Speicherdauer

Ihr Konto und was Sie veröffentlicht haben, bleiben gespeichert, bis Sie sie löschen. \
{remote_retention} {log_retention} Diese Fristen sind Einstellungen dieses Servers \
(retention_remote_days, retention_log_days) und werden angewandt, wann immer die Administration \
„civic retention apply“ ausführt.""",
    "cookies": """\
# Cookies

Ein Sitzungscookie (civic_session, {session_days} Tage gültig), gesetzt ab Ihrem ersten Besuch: \
Es hält Sie angemeldet, und das Fälschungsschutz-Token jedes Formulars (auch der Sprachauswahl) \
wird daraus abgeleitet. Solange Sie nicht angemeldet sind, enthält es nur einen Zufallswert, keine \
Kennung. Wenn Sie mit der Sprachauswahl eine Sprache wählen, merkt \
sich ein Cookie „lang“ sie ein Jahr lang. Es gibt keine Tracking-, Werbe- oder Statistik-Cookies.""",
    "elsewhere": """\
# Nichts von anderen Websites

Die Seiten laden nichts von anderen Websites: keine Schriften, Skripte, Bilder, Videos, Karten \
oder Statistiken von anderswo. Während Sie lesen, spricht Ihr Browser nur mit diesem Server.""",
    "federation": """\
# Was an andere Server geht

Dieser Server ist Teil des Fediverse. Was Sie in einer öffentlichen, nicht gelisteten oder nur \
für Folgende sichtbaren Diskussion oder einem solchen Bereich veröffentlichen (Beiträge, \
Vorschläge, Artikel, Initiativen), und Ihre Zustimmungen, Unterstützungen und „Ich habe \
gehandelt“ dort werden mit Ihrem Pseudonym und Ihrem öffentlichen Profil an die Server der Konten \
gesendet, die Ihnen, der Organisation oder der Diskussion folgen, und an den Server der Person, \
der Sie antworten oder zustimmen; sie bewahren Kopien auf und zeigen sie nach ihren eigenen \
Regeln. Inhalte nur für Mitglieder verlassen \
diesen Server nie. Wenn Sie etwas oder Ihr Konto löschen, sendet dieser Server eine Löschung \
(Delete) an jeden Server, der eine Kopie erhalten hat; diese sollen sie entfernen, aber dieser \
Server kann sie nicht dazu zwingen.""",
    "rights": """\
# Ihre Rechte

- Auskunft: Laden Sie alle Ihre Daten (eine JSON-Datei) mit „Meine Daten herunterladen“ auf Ihrer \
Kontoseite herunter, {base_url}/account; die Administration kann sie auch exportieren (civic user \
export).
- Löschung: Löschen Sie Ihr Konto auf Ihrer Kontoseite (oder bitten Sie die Administration darum: \
civic user delete). Ihre Beiträge, Vorschläge, Artikel und Initiativen erscheinen dann als \
gelöscht, ohne Text und Namen; Ihre Zustimmungen und Unterstützungen bleiben gezählt, ohne \
Verbindung zu Ihnen; Ihre E-Mail-Adresse, Ihr Passwort, Ihre Abonnements und Rollen werden \
entfernt; Ihr Benutzername bleibt reserviert, damit niemand ihn nutzen kann, um sich als Sie \
auszugeben; jeder Server, der eine Kopie erhalten hat, erhält eine Löschung.
- Für alles Weitere (Berichtigung, Widerspruch, Fragen) wenden Sie sich an die Administration: \
siehe Impressum, {base_url}/legal""",
}

LEGAL["de"] = """\
Diese Website, {instance_name} ({base_url}), läuft mit Civic Node, freier Software für \
Bürgerbeteiligung (Lizenz AGPL-3.0-or-later).

# Von der Administration zu ergänzen

Die Administration dieses Servers muss dieses Impressum ergänzen um:

- den Anbieter: Name und Anschrift (bei einer juristischen Person: Rechtsform, Sitz, \
Registergericht und Registernummer, Vertretungsberechtigte) und die inhaltlich verantwortliche \
Person;
- den Hoster: Name, Anschrift und Telefonnummer des Unternehmens, das den Server betreibt;
- einen Kontakt: eine E-Mail-Adresse oder einen anderen Weg, den Anbieter schnell zu erreichen.

# Inhalte

Was Einwohnerinnen, Einwohner und Organisationen veröffentlichen, gehört ihnen und liegt in ihrer \
Verantwortung; die Moderatoren der Organisationen können es mit Begründung ausblenden. Melden Sie \
ein Problem mit „Melden“ neben dem Inhalt.

# Personenbezogene Daten

Siehe die Datenschutzerklärung: {base_url}/privacy"""

RETENTION["de"] = {
    "remote_days": "Kopien von Beiträgen anderer Server, deren Urheber hier niemand folgt und auf "
                   "die hier niemand geantwortet hat, werden nach {days} Tagen gelöscht; Beiträge zu "
                   "Diskussionen bleiben als Nachweis der Beteiligung erhalten.",
    "remote_kept": "Kopien von Inhalten anderer Server werden aufbewahrt; Beiträge zu Diskussionen "
                   "bleiben ohnehin als Nachweis der Beteiligung erhalten.",
    "log_days": "Protokolle (empfangene Aktivitäten, Ablehnungen, abgeschlossene Zustellungen, das "
                "Moderationsprotokoll) werden nach {days} Tagen gelöscht, außer der Liste der Server, "
                "die einen noch veröffentlichten Text erhalten haben: Sie wird gebraucht, um ihnen "
                "seine Löschung zu senden.",
    "log_kept": "Protokolle (empfangene Aktivitäten, Ablehnungen, Zustellungen, das "
                "Moderationsprotokoll) werden aufbewahrt; von den Ablehnungen nur die neuesten 10.000.",
}


# -- Questionnaires, polls and budgets (all languages) -------------------------------------------

PRIVACY["en"]["consultations"] = """\
# Questionnaires, polls and budgets

Your answers to a questionnaire (and the files you attach) are stored with your account, and seen \
only by the admins of the organisation that asked, in its results and exports, which show no \
pseudonym. In an anonymous questionnaire nothing stored links your answers to your account: the \
server keeps only that you answered (to refuse a second response), apart from the answers, with no \
time. Answers never leave this server.

Your vote in a poll is stored with your account; the poll's server counts it and only the totals \
are published. A vote you cast from another server reaches this one as a reply naming your choice.

Your ballot in a participatory budget (the projects you chose, and when) is stored with your \
account and never leaves this server; only the totals per project are published. The projects you \
propose, your comments and supports of projects are shown with your pseudonym, like proposals. \
If you erase your account, a project of yours that was already voted on stays in the budget's \
record, without your name; your other projects and your comments are erased."""

PRIVACY["fr"]["consultations"] = """\
# Questionnaires, sondages et budgets

Vos réponses à un questionnaire (et les fichiers joints) sont conservées avec votre compte, et vues \
seulement par les administrateurs de l'organisation qui l'a posé, dans ses résultats et exports, \
qui ne montrent aucun pseudonyme. Dans un questionnaire anonyme, rien de ce qui est conservé ne \
relie vos réponses à votre compte : le serveur garde seulement le fait que vous avez répondu (pour \
refuser une seconde réponse), à part des réponses, sans date. Les réponses ne quittent jamais ce \
serveur.

Votre vote dans un sondage est conservé avec votre compte ; le serveur du sondage le compte et seuls \
les totaux sont publiés. Un vote fait depuis un autre serveur arrive ici comme une réponse qui nomme \
votre choix.

Votre bulletin dans un budget participatif (les projets choisis, et quand) est conservé avec votre \
compte et ne quitte jamais ce serveur ; seuls les totaux par projet sont publiés. Les projets que \
vous proposez, vos commentaires et soutiens de projets sont montrés avec votre pseudonyme, comme \
les propositions. Si vous effacez votre compte, un projet déjà soumis au vote reste dans le bilan \
du budget, sans votre nom ; vos autres projets et vos commentaires sont effacés."""

PRIVACY["de"]["consultations"] = """\
# Umfragen, Abstimmungen und Bürgerhaushalte

Ihre Antworten auf einen Fragebogen (und angehängte Dateien) werden mit Ihrem Konto gespeichert und \
nur von den Admins der fragenden Organisation gesehen, in deren Ergebnissen und Exporten, die kein \
Pseudonym zeigen. Bei einem anonymen Fragebogen verbindet nichts Gespeichertes Ihre Antworten mit \
Ihrem Konto: Der Server behält nur, dass Sie geantwortet haben (um eine zweite Antwort abzulehnen), \
getrennt von den Antworten und ohne Zeitpunkt. Antworten verlassen diesen Server nie.

Ihre Stimme in einer Abstimmung wird mit Ihrem Konto gespeichert; der Server der Abstimmung zählt \
sie, veröffentlicht werden nur die Summen. Eine Stimme von einem anderen Server kommt hier als \
Antwort an, die Ihre Wahl nennt.

Ihr Stimmzettel in einem Bürgerhaushalt (die gewählten Projekte und wann) wird mit Ihrem Konto \
gespeichert und verlässt diesen Server nie; veröffentlicht werden nur die Summen je Projekt. Die \
Projekte, die Sie vorschlagen, Ihre Kommentare und Unterstützungen von Projekten werden mit Ihrem \
Pseudonym gezeigt, wie Vorschläge. Löschen Sie Ihr Konto, bleibt ein Projekt, über das schon \
abgestimmt wurde, ohne Ihren Namen im Bericht des Haushalts; Ihre anderen Projekte und Kommentare \
werden gelöscht."""
