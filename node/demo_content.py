"""The demo's texts (fr/en/de): Ville de Lyon (Clos Jouve) and Métropole Nice Côte d'Azur."""

from __future__ import annotations

ORGANISATIONS = [
    {
        "handle": "lyon", "name": "Ville de Lyon", "color": "#b3122e",
        "territory": "Lyon, 4e arrondissement", "themes": ["urbanisme", "nature en ville", "climat"],
        "summary": "La Ville de Lyon consulte ses habitants sur les projets qui transforment leurs quartiers.",
        "intro": {
            "fr": "La Ville de Lyon associe les habitants aux projets qui transforment leurs quartiers : "
                  "le réaménagement du Clos Jouve, le plan climat, les mobilités douces.",
            "en": "The City of Lyon involves residents in the projects that transform their neighbourhoods: "
                  "the Clos Jouve redevelopment, the climate plan, active mobility.",
            "de": "Die Stadt Lyon beteiligt die Bewohner an den Projekten, die ihre Viertel verändern: "
                  "die Umgestaltung des Clos Jouve, der Klimaplan, sanfte Mobilität.",
        },
    },
    {
        "handle": "nice", "name": "Métropole Nice Côte d'Azur", "color": "#0b5cad",
        "territory": "49 communes, 550 000 habitants, 1 400 km²",
        "themes": ["ville intelligente", "mobilité", "services publics"],
        "summary": "La Métropole associe les habitants de ses 49 communes à ses décisions.",
        "intro": {
            "fr": "La Métropole Nice Côte d'Azur, c'est 49 communes, 550 000 habitants, 1 400 km², "
                  "220 000 emplois et 10 millions de touristes par an. Pourquoi une métropole ? Pour "
                  "soutenir la compétition territoriale entre littoral et montagnes.",
            "en": "Métropole Nice Côte d'Azur: 49 municipalities, 550,000 residents, 1,400 km², 220,000 "
                  "jobs and 10 million tourists a year, united between the coast and the mountains.",
            "de": "Die Metropole Nizza Côte d'Azur: 49 Gemeinden, 550 000 Einwohner, 1 400 km², "
                  "220 000 Arbeitsplätze und 10 Millionen Touristen im Jahr, zwischen Küste und Bergen.",
        },
    },
]

ANNOUNCEMENTS = {
    "lyon": ["<p>La concertation sur le réaménagement du Clos Jouve est ouverte : venez donner votre "
             "avis sur les usages de la place.</p>"],
    "nice": ["<p>Nouvelle discussion officielle : comment offrir des services de proximité en "
             "téléprésence dans le moyen et haut pays ?</p>"],
}

# (handle, display name, organisation, role)
STAFF = [
    ("node_admin", "Administration du nœud", None, "node admin"),
    ("lyon_admin", "Équipe participation Lyon", "lyon", "admin"),
    ("nice_admin", "Service démocratie locale Nice", "nice", "admin"),
    ("lyon_moderator", "Modération Lyon", "lyon", "moderator"),
]
RESIDENTS = [
    ("camille", "Camille (Croix-Rousse)", None, "resident"),
    ("henry", "Henry Kunstlinger", None, "resident"),
    ("cdq_ouest", "CDQ X-Rousse Ouest", None, "resident"),
    ("college_jb", "Collège JB de La Salle", None, "resident"),
    ("chloe", "Chloé Pahud", None, "resident"),
    ("amine", "Amine", None, "resident"),
    ("lena", "Lena (Carros)", None, "resident"),
    ("paul", "Paul", None, "resident"),
]

CLOS_JOUVE = {
    "slug": "clos-jouve", "alignment": True, "threshold": 3,
    "title": {"fr": "Transformez avec nous le Clos Jouve !",
              "en": "Transform the Clos Jouve with us!",
              "de": "Gestalten Sie mit uns den Clos Jouve um!"},
    "summary": {"fr": "Faire du plus grand terrain de boules de Lyon un espace public ouvert et végétal.",
                "en": "Turning Lyon's largest boules ground into an open, green public space.",
                "de": "Lyons größten Boule-Platz in einen offenen, grünen öffentlichen Raum verwandeln."},
    "body": {"fr": "La fonction actuelle du Clos Jouve, plus grand terrain de boule de Lyon, n'a pas changé "
                   "depuis le milieu du XIXe siècle. Nous souhaitons en faire un espace public ouvert et "
                   "accessible par tous, qui prenne en compte la dimension Ville-Nature qui nous est si "
                   "chère à la Croix-Rousse, en incluant une dimension végétale généreuse.",
             "en": "The Clos Jouve, Lyon's largest boules ground, has served the same purpose since the "
                   "mid-19th century. We want to make it an open public space for everyone, with "
                   "generous greenery, true to the Croix-Rousse's love of nature in the city.",
             "de": "Der Clos Jouve, Lyons größter Boule-Platz, dient seit Mitte des 19. Jahrhunderts "
                   "demselben Zweck. Wir möchten daraus einen offenen, für alle zugänglichen Raum mit "
                   "viel Grün machen."},
    "stakeholders": [("college_jb", "association", "Collège à proximité du Clos Jouve"),
                     ("cdq_ouest", "association", "Conseil de quartier, président"),
                     ("henry", "expert", "Maître composteur"),
                     ("lyon_admin", "elected", "Mairie du 4e arrondissement")],
    "articles": [("Le Clos-Jouve : un espace à réinventer tout à côté de l'ESPE",
                  "Ce sera le plus gros projet du mandat, disent les services de la mairie du 4e.",
                  "https://www.mairie4.lyon.fr/clos-jouve", "chloe"),
                 ("Compte rendu de l'atelier du 12 octobre", "Synthèse des 40 participants.",
                  "https://www.mairie4.lyon.fr/atelier-clos-jouve", "lyon_admin")],
    "contributions": [
        ("compost", "camille", "<p>Le composteur installé dans le jardin de la Maison des Associations est "
         "saturé, preuve que les habitants sont sensibilisés. Il faudrait installer d'autres lieux de "
         "compostage : cela crée du lien et nourrit la terre du jardin.</p>", None,
         ["henry", "chloe", "amine", "paul", "lena"], {"alignment": "favour", "quality": True}),
        ("contraintes", "cdq_ouest", "<p>L'idée est séduisante mais un composteur ne peut pas fonctionner "
         "en libre service : il faut une permanence d'une personne compétente.</p>", "compost",
         ["college_jb"], {"alignment": "neutral"}),
        ("lombri", "henry", "<p>Le composteur en libre-service est possible : il existe déjà à "
         "Croix-Paquet et au Jardin des Plantes, avec des lombricomposteurs.</p>", "contraintes",
         ["camille", "amine"], {"impact": True}),
        ("eleves", "college_jb", "<p>Les élèves se mobilisent pour participer ! Nous proposons un "
         "potager pédagogique au bord de la place.</p>", None,
         ["camille", "cdq_ouest", "chloe", "henry", "lyon_admin", "paul"], {"alignment": "favour"}),
        ("boules", "paul", "<p>Gardons quelques jeux de boules : c'est l'histoire du lieu.</p>", None,
         ["cdq_ouest"], {"alignment": "against"}),
        ("merci", "lyon_admin", "<p>Merci pour vos contributions : l'atelier de restitution aura lieu "
         "le 5 décembre à la mairie du 4e.</p>", None, [], {}),
    ],
    "initiatives": [("Propositions du CDQ Lyon 4 Ouest",
                     "<p>Le conseil de quartier Ouest fera des propositions concrètes prenant en compte le "
                     "patrimoine, la nature en ville et le vivre ensemble. Venez nous rejoindre.</p>",
                     "https://www.mairie4.lyon.fr", "cdq_ouest", ["camille", "henry", "chloe", "amine"])],
}

CLIMAT = {
    "slug": "parlons-climat", "threshold": 2,
    "title": {"fr": "Parlons Climat", "en": "Let's talk climate", "de": "Reden wir über das Klima"},
    "summary": {"fr": "Des idées pour le Plan Climat-Air-Énergie 2020-2030.",
                "en": "Ideas for the 2020-2030 climate, air and energy plan.",
                "de": "Ideen für den Klima-, Luft- und Energieplan 2020-2030."},
    "body": {"fr": "Partagez vos idées, vos bonnes pratiques et vos retours d'expérience."},
    "contributions": [("velo", "amine", "<p>Plus de stationnements vélo sécurisés près des gares.</p>",
                       None, ["camille", "paul"], {"quality": True})],
    "conclusion": {"fr": "30 % des mesures du plan climat sont issues de cette consultation. Merci !",
                   "en": "30% of the climate plan's measures came from this consultation. Thank you!",
                   "de": "30 % der Maßnahmen des Klimaplans stammen aus dieser Beteiligung. Danke!"},
}

COMPOST_CITIZEN = {
    "slug": "jardins-partages", "kind": "citizen", "author": "camille", "threshold": 2,
    "title": {"fr": "Plus de jardins partagés à la Croix-Rousse",
              "en": "More shared gardens in the Croix-Rousse"},
    "summary": {"fr": "Une discussion ouverte par une habitante.",
                "en": "A discussion opened by a resident."},
    "body": {"fr": "Où pourrait-on créer de nouveaux jardins partagés ?"},
    "contributions": [("pentes", "chloe", "<p>Sur les pentes, derrière l'amphithéâtre des Trois Gaules.</p>",
                       None, ["camille"], {})],
}

TELEPRESENCE = {
    "slug": "services-telepresence", "threshold": 3,
    "title": {"fr": "Services en téléprésence", "en": "Telepresence services",
              "de": "Dienste per Telepräsenz"},
    "summary": {"fr": "Des services publics de proximité dans le moyen et haut pays.",
                "en": "Local public services in the hinterland and the mountains.",
                "de": "Bürgernahe Dienste im Hinterland und in den Bergen."},
    "body": {"fr": "Il existe de vrais enjeux liés à la mise en œuvre de services de qualité de proximité, "
                   "publics ou privés, dans le moyen et haut pays : maintien des populations, développement "
                   "économique, solidarité territoriale. La Métropole veut offrir les meilleurs services "
                   "grâce à la téléprésence.",
             "en": "Keeping quality local services in the hinterland matters for its people, its economy "
                   "and territorial solidarity. The Métropole wants to offer them through telepresence.",
             "de": "Gute bürgernahe Dienste im Hinterland sind wichtig für Bevölkerung, Wirtschaft und "
                   "Solidarität. Die Metropole will sie per Telepräsenz anbieten."},
    "stakeholders": [("lena", "resident", "Habitante de Carros"), ("nice_admin", "elected", "Vice-président")],
    "contributions": [
        ("mairie", "lena", "<p>Des bornes de visio dans les mairies annexes, avec un agent pour aider.</p>",
         None, ["paul", "amine", "camille"], {"quality": True}),
        ("reseau", "paul", "<p>Il faut d'abord la fibre dans les vallées.</p>", "mairie", ["lena"], {}),
    ],
}

SMART_CITY = {
    "slug": "metropole-intelligente", "threshold": 3,
    "title": {"fr": "Co-construisons Nice, Métropole intelligente", "en": "Building a smart Nice together",
              "de": "Gemeinsam ein intelligentes Nizza gestalten"},
    "summary": {"fr": "Les défis de durabilité les plus urgents, selon vous.",
                "en": "The most urgent sustainability challenges, in your view.",
                "de": "Die dringendsten Nachhaltigkeitsfragen aus Ihrer Sicht."},
    "body": {"fr": "Sécurité, culture, démocratie, aménagement, économie, transports, développement durable."},
    "contributions": [("capteurs", "amine", "<p>Publier en open data les mesures des capteurs de qualité de "
                       "l'air.</p>", None, ["lena", "paul"], {"impact": True})],
}

DISCUSSIONS = {"lyon": [CLOS_JOUVE, CLIMAT, COMPOST_CITIZEN], "nice": [TELEPRESENCE, SMART_CITY]}

# (title, body, author, state, supporters, official answer)
PROPOSALS = {
    "lyon": [
        ("Un composteur collectif au Clos Jouve", "<p>Avec une permanence tenue par des bénévoles formés.</p>",
         "camille", "accepted", ["henry", "chloe", "amine", "paul", "cdq_ouest"],
         "<p>Proposition retenue : un composteur sera installé au printemps avec le CDQ Ouest.</p>"),
        ("Un potager pédagogique pour le collège", "<p>Géré par les élèves et leurs enseignants.</p>",
         "college_jb", "evaluating", ["camille", "chloe", "lena"],
         "<p>Les services des espaces verts étudient l'emplacement.</p>"),
        ("Conserver deux jeux de boules", "<p>Pour garder la mémoire du lieu.</p>", "paul", "published",
         ["cdq_ouest"], None),
        ("Un parking souterrain", "<p>Sous la place.</p>", "amine", "rejected", [],
         "<p>Non retenu : le projet privilégie la nature en ville et les mobilités douces.</p>"),
        ("Fontaine à boire", "<p>Une fontaine publique pour l'été.</p>", "chloe", "implemented",
         ["camille", "paul", "amine"], "<p>Installée en juin.</p>"),
        ("Un kiosque à musique", "<p>Pour les fêtes de quartier.</p>", "henry", "withdrawn", [], None),
        ("Brouillon : bancs ombragés", "<p>À compléter.</p>", "camille", "draft", [], None),
    ],
    "nice": [
        ("Bornes de visio en mairie annexe", "<p>Pour les démarches administratives.</p>", "lena",
         "accepted", ["paul", "amine"], "<p>Expérimentation dans trois communes en 2027.</p>"),
        ("Navettes électriques vers les vallées", "<p>Le week-end.</p>", "paul", "published",
         ["lena"], None),
    ],
}
