// Fedify 1.5 ActivityPub peer for Civic Node interop tests: one Person "alice" plus a JSON control API.
//
//   node peer.mjs --host 127.0.0.3 --port 8002 [--origin http://127.0.0.3:8002]
//
// Loopback only. Every activity that passes Fedify's signature checks is recorded and can be read
// back with GET /_control/inbox. Signatures are always verified (no skipSignatureVerification).
import http from "node:http";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Like,
  MemoryKvStore,
  Note,
  PUBLIC_COLLECTION,
  Person,
  Reject,
  Tombstone,
  Undo,
  Update,
  createFederation,
  generateCryptoKeyPair,
  isActor,
} from "@fedify/fedify";
import { Temporal } from "@js-temporal/polyfill";
import { configure, getConsoleSink } from "@logtape/logtape";

const { values: args } = parseArgs({
  options: {
    host: { type: "string", default: process.env.FEDIFY_PEER_HOST ?? "127.0.0.3" },
    port: { type: "string", default: process.env.FEDIFY_PEER_PORT ?? "8002" },
    origin: { type: "string", default: process.env.FEDIFY_PEER_ORIGIN ?? "" },
  },
});
if (!args.host.startsWith("127.")) {
  console.error(`refusing to bind ${args.host}: this peer is for loopback tests only`);
  process.exit(2);
}
const ORIGIN = (args.origin || `http://${args.host}:${args.port}`).replace(/\/$/, "");
const USER = "alice";

if (process.env.FEDIFY_PEER_DEBUG) {
  // Fedify logs through LogTape, which stays silent until configured.
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: "fedify", sinks: ["console"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: ["console"], lowestLevel: "warning" },
    ],
  });
}

// ---- state (in memory; the peer lives for one test session) ----
const keys = [
  await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
  await generateCryptoKeyPair("Ed25519"),
];
const inbox = []; // every verified activity, in arrival order
const errors = []; // inbox listener failures
const rawById = new Map(); // activity id -> JSON exactly as POSTed
const followers = new Map(); // actor id -> {id, inbox, sharedInbox, followId}
const following = new Map(); // actor id -> {id, inbox, followId, follow, accepted, rejected}
const likes = new Map(); // object id -> {like, recipient}
const objects = new Map(); // "kind/id" -> Fedify object served at its id
const sent = []; // activities sent by alice, in order (JSON-LD)
const KINDS = [
  [Note, "notes"],
  [Create, "creates"],
  [Follow, "follows"],
  [Accept, "accepts"],
  [Like, "likes"],
  [Undo, "undos"],
  [Delete, "deletes"],
  [Announce, "announces"],
  [Update, "updates"],
];

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  // Fedify refuses private and loopback addresses unless told otherwise; the whole test bed is 127.0.0.x.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const pairs = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify peer)",
      summary: "<p>Fedify 1.5 test peer for Civic Node</p>",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      publicKey: pairs[0].cryptographicKey,
      assertionMethods: pairs.map((p) => p.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === USER ? keys : []));

federation.setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
  if (identifier !== USER) return null;
  const items = [...followers.values()].map((f) => ({
    id: new URL(f.id),
    inboxId: new URL(f.inbox),
    endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
  }));
  return { items };
});

federation.setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) => {
  if (identifier !== USER) return null;
  return { items: [...following.values()].filter((f) => f.accepted).map((f) => new URL(f.id)) };
});

federation.setOutboxDispatcher("/users/{identifier}/outbox", async (_ctx, identifier) => {
  if (identifier !== USER) return null;
  const items = [...objects.entries()]
    .filter(([key]) => key.startsWith("creates/") || key.startsWith("announces/"))
    .map(([, value]) => value)
    .reverse();
  return { items };
});

for (const [cls, kind] of KINDS) {
  federation.setObjectDispatcher(cls, `/users/{identifier}/${kind}/{id}`, (_ctx, values) => {
    if (values.identifier !== USER) return null;
    return objects.get(`${kind}/${values.id}`) ?? null;
  });
}

federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
  software: { name: "civic-fedify-peer", version: "1.5.9" },
  protocols: ["activitypub"],
  usage: { users: { total: 1, activeMonth: 1, activeHalfyear: 1 }, localPosts: 0 },
}));

function newId(ctx, cls, kind) {
  const id = randomUUID();
  return { key: `${kind}/${id}`, uri: ctx.getObjectUri(cls, { identifier: USER, id }) };
}

function remember(key, object) {
  objects.set(key, object);
  return object;
}

async function record(ctx, activity) {
  const id = activity.id?.href ?? null;
  const json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  inbox.push({
    type: Array.isArray(json.type) ? json.type[0] : json.type,
    id,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    received: new Date().toISOString(),
    raw: (id && rawById.get(id)) ?? null,
    activity: json,
  });
}

async function onFollow(ctx, follow) {
  await record(ctx, follow);
  if (follow.id == null || follow.objectId?.href !== ctx.getActorUri(USER).href) return;
  const follower = await follow.getActor(ctx);
  if (!isActor(follower) || follower.id == null || follower.inboxId == null) return;
  const { key, uri } = newId(ctx, Accept, "accepts");
  const accept = remember(
    key,
    new Accept({ id: uri, actor: ctx.getActorUri(USER), object: follow, to: follower.id }),
  );
  await ctx.sendActivity({ identifier: USER }, follower, accept);
  sent.push(await accept.toJsonLd({ format: "compact" }));
  followers.set(follower.id.href, {
    id: follower.id.href,
    inbox: follower.inboxId.href,
    sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
    followId: follow.id.href,
  });
}

function settleFollow(activity, field) {
  const target = activity.objectId?.href;
  for (const entry of following.values()) {
    if (entry.followId === target || (target == null && entry.id === activity.actorId?.href)) {
      entry[field] = true;
    }
  }
}

async function onUndo(ctx, undo) {
  await record(ctx, undo);
  const object = await undo.getObject(ctx);
  if (object instanceof Follow && undo.actorId != null) {
    const entry = followers.get(undo.actorId.href);
    if (entry && (object.id == null || entry.followId === object.id.href)) {
      followers.delete(undo.actorId.href);
    }
  }
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .setSharedKeyDispatcher(() => ({ identifier: USER }))
  .on(Follow, onFollow)
  .on(Accept, async (ctx, accept) => {
    await record(ctx, accept);
    settleFollow(accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    await record(ctx, reject);
    settleFollow(reject, "rejected");
  })
  .on(Undo, onUndo)
  .on(Activity, record) // Create, Announce, Like, Delete, Update, ... (most specific listener wins)
  .onError((_ctx, error) => {
    errors.push({ time: new Date().toISOString(), error: String(error?.stack ?? error) });
  });

// ---- control API ----
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function lookup(ctx, url) {
  const documentLoader = await ctx.getDocumentLoader({ identifier: USER });
  const object = await ctx.lookupObject(url, { documentLoader });
  if (object == null) throw new HttpError(502, `could not fetch ${url}`);
  return object;
}

async function lookupActor(ctx, url) {
  const actor = await lookup(ctx, url);
  if (!isActor(actor)) throw new HttpError(400, `${url} is not an actor`);
  return actor;
}

const PUBLIC_NAMES = new Set([PUBLIC_COLLECTION.href, "as:Public", "Public"]);

// Actors named in to/cc (the public and followers collections excluded) plus, if asked, followers.
// Addresses that are not actors (collections) or cannot be fetched are listed in `.skipped`.
async function recipientsFor(ctx, addresses, withFollowers) {
  const byId = new Map();
  const skipped = [];
  if (withFollowers) {
    for (const f of followers.values()) byId.set(f.id, { id: new URL(f.id), inboxId: new URL(f.inbox) });
  }
  const followersUri = ctx.getFollowersUri(USER).href;
  for (const address of addresses) {
    if (PUBLIC_NAMES.has(address) || address === followersUri || byId.has(address)) continue;
    try {
      const object = await lookup(ctx, address);
      if (isActor(object) && object.id != null) byId.set(object.id.href, object);
      else skipped.push({ address, reason: "not an actor" });
    } catch (error) {
      skipped.push({ address, reason: String(error?.message ?? error) });
    }
  }
  return Object.assign([...byId.values()], { skipped });
}

async function send(ctx, recipients, activity) {
  if (recipients.length > 0) {
    await ctx.sendActivity({ identifier: USER }, recipients, activity, { immediate: true });
  }
  const json = await activity.toJsonLd({ format: "compact" });
  sent.push(json);
  return { activity: json, recipients: recipients.map((r) => r.id.href), skipped: recipients.skipped ?? [] };
}

const asList = (value) => (value == null ? [] : Array.isArray(value) ? value : [value]);

const routes = {
  "GET /_control/health": async (ctx) => ({ ok: true, actor: ctx.getActorUri(USER).href }),
  "GET /_control/inbox": async () => ({ items: inbox }),
  "GET /_control/errors": async () => ({ items: errors }),
  "GET /_control/sent": async () => ({ items: sent }),
  "GET /_control/followers": async () => ({ items: [...followers.values()] }),
  "GET /_control/following": async () => ({
    items: [...following.values()].map(({ follow: _f, ...rest }) => rest),
  }),
  "POST /_control/reset": async () => {
    inbox.length = 0;
    errors.length = 0;
    return { ok: true };
  },
  // What a server does after it sent Delete{actor} for this user: it has no followers left to
  // deliver to (the tests send that Delete by hand with /_control/send).
  "POST /_control/forget-followers": async () => {
    const forgotten = followers.size;
    followers.clear();
    return { forgotten };
  },
  "POST /_control/lookup": async (ctx, body) => ({
    object: await (await lookup(ctx, body.url)).toJsonLd({ format: "compact" }),
  }),
  "POST /_control/follow": async (ctx, body) => {
    const target = await lookupActor(ctx, body.target);
    const { key, uri } = newId(ctx, Follow, "follows");
    const follow = remember(key, new Follow({ id: uri, actor: ctx.getActorUri(USER), object: target.id }));
    following.set(target.id.href, {
      id: target.id.href,
      inbox: target.inboxId?.href ?? null,
      followId: uri.href,
      follow,
      accepted: false,
      rejected: false,
    });
    return send(ctx, [target], follow);
  },
  "POST /_control/unfollow": async (ctx, body) => {
    const entry = following.get(body.target);
    if (!entry) throw new HttpError(404, `not following ${body.target}`);
    const target = await lookupActor(ctx, body.target);
    const { key, uri } = newId(ctx, Undo, "undos");
    const undo = remember(key, new Undo({ id: uri, actor: ctx.getActorUri(USER), object: entry.follow }));
    following.delete(body.target);
    return send(ctx, [target], undo);
  },
  "POST /_control/post": async (ctx, body) => {
    if (typeof body.content !== "string") throw new HttpError(400, "content is required");
    const followersUri = ctx.getFollowersUri(USER);
    const to = asList(body.to ?? [PUBLIC_COLLECTION.href]);
    const cc = asList(body.cc ?? [followersUri.href]);
    const all = [...to, ...cc];
    const toFollowers = all.includes(followersUri.href) || all.some((a) => PUBLIC_NAMES.has(a));
    const note = newId(ctx, Note, "notes");
    const create = newId(ctx, Create, "creates");
    const common = {
      tos: to.map((a) => new URL(a === "as:Public" || a === "Public" ? PUBLIC_COLLECTION.href : a)),
      ccs: cc.map((a) => new URL(a)),
      published: Temporal.Now.instant(),
    };
    const noteObject = remember(
      note.key,
      new Note({
        id: note.uri,
        attribution: ctx.getActorUri(USER),
        content: body.content,
        replyTarget: body.inReplyTo ? new URL(body.inReplyTo) : null,
        url: note.uri,
        ...common,
      }),
    );
    const activity = remember(
      create.key,
      new Create({ id: create.uri, actor: ctx.getActorUri(USER), object: noteObject, ...common }),
    );
    const recipients = await recipientsFor(ctx, all, toFollowers);
    return { note: note.uri.href, ...(await send(ctx, recipients, activity)) };
  },
  "POST /_control/like": async (ctx, body) => {
    if (!body.object) throw new HttpError(400, "object is required");
    let to = body.to;
    if (!to) {
      const object = await lookup(ctx, body.object);
      to = object.attributionId?.href ?? object.actorId?.href;
      if (!to) throw new HttpError(400, "give 'to': the object names no author");
    }
    const recipient = await lookupActor(ctx, to);
    const { key, uri } = newId(ctx, Like, "likes");
    const like = remember(
      key,
      new Like({ id: uri, actor: ctx.getActorUri(USER), object: new URL(body.object), to: recipient.id }),
    );
    likes.set(body.object, { like, recipient: recipient.id.href });
    return send(ctx, [recipient], like);
  },
  "POST /_control/undo-like": async (ctx, body) => {
    const entry = likes.get(body.object);
    if (!entry) throw new HttpError(404, `no like of ${body.object}`);
    const recipient = await lookupActor(ctx, entry.recipient);
    const { key, uri } = newId(ctx, Undo, "undos");
    const undo = remember(
      key,
      new Undo({ id: uri, actor: ctx.getActorUri(USER), object: entry.like, to: recipient.id }),
    );
    likes.delete(body.object);
    return send(ctx, [recipient], undo);
  },
  "POST /_control/announce": async (ctx, body) => {
    if (!body.object) throw new HttpError(400, "object is required");
    const { key, uri } = newId(ctx, Announce, "announces");
    const to = asList(body.to ?? [PUBLIC_COLLECTION.href]);
    const cc = asList(body.cc ?? [ctx.getFollowersUri(USER).href]);
    const announce = remember(
      key,
      new Announce({
        id: uri,
        actor: ctx.getActorUri(USER),
        object: new URL(body.object),
        tos: to.map((a) => new URL(a)),
        ccs: cc.map((a) => new URL(a)),
      }),
    );
    return send(ctx, await recipientsFor(ctx, [...to, ...cc], true), announce);
  },
  "POST /_control/delete": async (ctx, body) => {
    const entry = [...objects.entries()].find(([k, v]) => k.startsWith("notes/") && v.id?.href === body.object);
    if (!entry) throw new HttpError(404, `no note ${body.object}`);
    const [noteKey, note] = entry;
    objects.delete(noteKey);
    const addresses = [...note.toIds, ...note.ccIds].map((u) => u.href);
    const { key, uri } = newId(ctx, Delete, "deletes");
    const del = remember(
      key,
      new Delete({
        id: uri,
        actor: ctx.getActorUri(USER),
        object: new Tombstone({ id: note.id }),
        tos: note.toIds,
        ccs: note.ccIds,
      }),
    );
    return send(ctx, await recipientsFor(ctx, addresses, true), del);
  },
  // Sends any activity given as JSON-LD, signed by alice, to the named actors (negative tests).
  "POST /_control/send": async (ctx, body) => {
    const activity = await Activity.fromJsonLd(body.activity, ctx);
    const recipients = [];
    for (const address of asList(body.to)) recipients.push(await lookupActor(ctx, address));
    return send(ctx, recipients, activity);
  },
};

async function control(request, body) {
  const url = new URL(request.url);
  const handler = routes[`${request.method} ${url.pathname}`];
  if (!handler) return Response.json({ error: "no such control route" }, { status: 404 });
  const ctx = federation.createContext(new URL(ORIGIN), undefined);
  try {
    const payload = body.length ? JSON.parse(body.toString("utf8")) : {};
    return Response.json(await handler(ctx, payload));
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    return Response.json({ error: String(error?.message ?? error) }, { status });
  }
}

// ---- node:http adapter ----
function rememberRawInboxPost(request, body) {
  if (request.method !== "POST" || !/\/inbox$/.test(new URL(request.url).pathname)) return;
  try {
    const json = JSON.parse(body.toString("utf8"));
    if (typeof json?.id === "string") rawById.set(json.id, json);
  } catch {
    // Fedify answers malformed bodies itself.
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const hasBody = !["GET", "HEAD"].includes(req.method) && body.length > 0;
    const request = new Request(new URL(req.url, ORIGIN), {
      method: req.method,
      headers,
      body: hasBody ? body : undefined,
    });
    let response;
    if (request.url.startsWith(`${ORIGIN}/_control/`)) {
      response = await control(request, body);
    } else {
      rememberRawInboxPost(request, body);
      response = await federation.fetch(request, { contextData: undefined });
    }
    const out = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(out);
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error?.stack ?? error));
  }
});

server.listen(Number(args.port), args.host, () => {
  console.log(`fedify peer listening on ${ORIGIN} (actor ${ORIGIN}/users/${USER})`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
