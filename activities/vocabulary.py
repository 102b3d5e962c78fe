"""Our JSON-LD context, the public-collection spellings and the project extension namespace."""

from __future__ import annotations

AS_NS = "https://www.w3.org/ns/activitystreams"
SECURITY_NS = "https://w3id.org/security/v1"
# One project-wide namespace for terms AS2 lacks (documented term by term in FEDERATION.md).
CIVIC_NS = "https://civic-node.org/ns#"

PUBLIC = f"{AS_NS}#Public"
# Fedify 1.5 writes "as:Public"; some servers write a bare "Public".
PUBLIC_SPELLINGS = frozenset({PUBLIC, "as:Public", "Public"})

ACTOR_TYPES = frozenset({"Application", "Group", "Organization", "Person", "Service"})
ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

CONTEXT: list = [
    AS_NS,
    SECURITY_NS,
    {
        "civic": CIVIC_NS,
        "toot": "http://joinmastodon.org/ns#",
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "discoverable": "toot:discoverable",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "sensitive": "as:sensitive",
        # FEP-1b12 groups: Lemmy's flag for groups where only moderators post (official-only
        # discussions); Lemmy, Mbin and PieFed read it under this name.
        "lemmy": "https://join-lemmy.org/ns#",
        "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
        # civic: terms are written prefixed ("civic:status") and expand through the prefix;
        # only IRI-valued ones need a definition. FEDERATION.md lists every term (CIVIC_TERMS).
        "civic:organization": {"@id": "civic:organization", "@type": "@id"},
    },
]

# Every civic: term we publish, documented term by term in FEDERATION.md ("Extension namespace").
CIVIC_TERMS = frozenset(
    {
        "civic:Stakeholder",
        "civic:acted",
        "civic:alignment",
        "civic:amount",
        "civic:articleKind",
        "civic:coalition",
        "civic:conclusion",
        "civic:cost",
        "civic:currency",
        "civic:district",
        "civic:discussionKind",
        "civic:feasibility",
        "civic:impact",
        "civic:language",
        "civic:official",
        "civic:officialAnswer",
        "civic:organization",
        "civic:phase",
        "civic:qualityRecognised",
        "civic:role",
        "civic:status",
        "civic:supportReceived",
        "civic:supportThreshold",
        "civic:supports",
        "civic:variantOf",
    }
)


def is_public(addresses: list[str]) -> bool:
    return any(a in PUBLIC_SPELLINGS for a in addresses)
