"""`civic coalition campaign …`: a coalition's campaigns and its members' variants from the
command line (node.services.campaigns): campaign create and list on the coalition's home, campaign
adapt on a member's node. Coalitions and organisations are named as in civic/commands/coalition.py,
whose ``coalition`` group this module adds to (feature modules register in name order, that one
first)."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from activities.html import text_to_html
from civic.commands.coalition import (
    COALITION_HELP,
    actor_id_of,
    any_coalition,
    hosted_coalition,
    local_org,
    text_maps,
)
from civic.common import in_transaction, printable, settings_of
from node import visibility
from node.config import Settings
from node.errors import InvalidInput, NotFound
from node.services import campaigns, coalitions, media
from node.services.i18n import LANGUAGES, pick


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


async def _images(paths: list[str]) -> list[bytes]:
    """The files' bytes, each an accepted image (PNG, JPEG, WebP) — or the reason one is not."""
    images = []
    for path in paths:
        data = await asyncio.to_thread(_read, path)
        problem = media.problem_with(data)
        if problem:
            raise InvalidInput(f"{path}: {media.PROBLEMS[problem]}")
        images.append(data)
    return images


class _Stored:
    """Images saved under the node's media folder for one command: the ones this command wrote
    are taken away again when its transaction does not commit (a campaign refused leaves none)."""

    def __init__(self, settings: Settings):
        self.folder = media.media_dir(settings.data_dir)
        self.settings = settings
        self.written: list[Path] = []

    async def save(self, data: bytes) -> tuple[str, str]:
        def save() -> str:
            target = self.folder / f"{hashlib.sha256(data).hexdigest()}.{media.sniff(data)}"
            existed = target.exists()
            url = media.save_image(self.settings.data_dir, data)
            if not existed and url == media.URL_PREFIX + target.name:
                self.written.append(target)
            return url

        url = await asyncio.to_thread(save)
        return url, media.media_type_of(url)

    def discard(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)


async def _with_images(settings: Settings, work):
    stored = _Stored(settings)
    try:
        return await in_transaction(settings, lambda session, uris: work(session, uris, stored))
    except BaseException:
        stored.discard()
        raise


async def cmd_campaign_create(args) -> None:
    """Publish a campaign: its name, summary and text per language, and a kit of messages and
    visuals per language (plain text becomes HTML; visuals are stored in the node's media)."""
    settings = settings_of(args)
    names = text_maps(args.name, "--name")
    summaries = text_maps(args.summary, "--summary")
    texts = {lang: text_to_html(text) for lang, text in text_maps(args.text, "--text").items()}
    messages = []
    for value in args.message or ():
        [(language, text)] = text_maps([value], "--message").items()
        messages.append((language, text))
    visual_languages = [next(iter(text_maps([value], "--visual", "PATH"))) for value in args.visual or ()]
    images = await _images([value.partition("=")[2].strip() for value in args.visual or ()])

    async def work(session, uris, stored):
        coalition = await hosted_coalition(session, args.handle)
        kit = [{"language": language, "kind": "message", "name": "", "content": text_to_html(text)}
               for language, text in messages]
        for language, data in zip(visual_languages, images, strict=True):
            url, media_type = await stored.save(data)
            kit.append({"language": language, "kind": "visual", "name": names.get(language, ""),
                        "url": url, "media_type": media_type})
        campaign = await campaigns.create(session, uris, coalition.actor, name=names, summary=summaries,
                                          content=texts, kit=kit)
        return campaign.ap_id, visibility.federates(coalition.visibility)

    ap_id, federates = await _with_images(settings, work)
    print(ap_id)
    if federates:
        print("The running node sends it to the coalition's followers and members.", file=sys.stderr)


async def cmd_campaign_list(args) -> None:
    """The campaigns of a coalition (here, or one whose campaigns this node was sent): id,
    supports counted, variants, name."""
    settings = settings_of(args)
    coalition_id = await actor_id_of(settings, args.coalition, "coalition")

    async def work(session, uris):
        coalition = await any_coalition(session, coalition_id, args.coalition)
        found = await coalitions.of_actor(session, coalition)
        language = found.languages[0] if found and found.languages else "fr"
        return [(c.ap_id, c.support_count, len(await campaigns.variants(session, c)), pick(c.name, language))
                for c in await campaigns.of_coalition(session, coalition)]

    rows = await in_transaction(settings, work)
    for ap_id, supports, variants, name in rows:
        print(f"{ap_id}\t{supports} support(s)\t{variants} variant(s)\t{printable(name)}")
    if not rows:
        print("No campaign.")


async def cmd_campaign_adapt(args) -> None:
    """A member organisation's own version of a campaign, in one language; prints its id."""
    settings = settings_of(args)
    images = await _images([args.visual] if args.visual else [])

    async def work(session, uris, stored):
        org = await local_org(session, args.org)
        campaign = await campaigns.by_ap_id(session, args.campaign.strip())
        if campaign is None:
            raise NotFound(f"no campaign with the id {args.campaign!r} on this node")
        url, media_type = await stored.save(images[0]) if images else (None, None)
        variant = await campaigns.adapt(session, uris, org, campaign, language=args.language,
                                        name=args.name, content_html=text_to_html(args.text),
                                        visual_url=url, visual_media_type=media_type)
        return variant.ap_id

    print(await _with_images(settings, work))
    print("The running node sends it to the organisation's followers and to the coalition.",
          file=sys.stderr)


def register(sub, groups, common) -> None:
    group = groups["coalition"]
    campaign = group.add_parser("campaign", help="a coalition's campaigns and members' variants")
    actions = campaign.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    p = actions.add_parser("create", parents=[common], help="publish a campaign of a coalition of this node")
    p.add_argument("handle", help="coalition handle")
    p.add_argument("--name", action="append", required=True, metavar="LANG=TEXT", help="name in a language (repeat)")
    p.add_argument("--summary", action="append", metavar="LANG=TEXT", help="summary in a language (repeat)")
    p.add_argument("--text", action="append", metavar="LANG=TEXT", help="text in a language (repeat)")
    p.add_argument("--message", action="append", metavar="LANG=TEXT", help="a kit message (repeat)")
    p.add_argument("--visual", action="append", metavar="LANG=PATH",
                   help="a kit visual: a PNG, JPEG or WebP file (repeat)")
    p.set_defaults(func=cmd_campaign_create)
    p = actions.add_parser("list", parents=[common], help="a coalition's campaigns: ids, supports, variants")
    p.add_argument("coalition", metavar="COALITION_ADDRESS", help=COALITION_HELP)
    p.set_defaults(func=cmd_campaign_list)
    p = actions.add_parser("adapt", parents=[common],
                           help="an organisation's own variant of a campaign in one language (prints its id)")
    p.add_argument("org", help="organisation handle (an accepted member of the campaign's coalition)")
    p.add_argument("campaign", metavar="CAMPAIGN_ID", help="the campaign's id (URL)")
    p.add_argument("--language", required=True, choices=LANGUAGES)
    p.add_argument("--name", required=True, help="the variant's title")
    p.add_argument("--text", required=True, help="the variant's text (plain text)")
    p.add_argument("--visual", metavar="PATH", help="its visual: a PNG, JPEG or WebP file")
    p.set_defaults(func=cmd_campaign_adapt)
