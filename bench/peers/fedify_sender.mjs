// Fedify 1.5.9 as the sender of bench/bench_fanout_peers.py: one actor "bench" whose followers
// (an in-memory list read from --followers, one inbox each, no sharedInbox) receive one Create(Note)
// through Fedify's own queue, a PostgresMessageQueue (@fedify/postgres 0.3.0) in --database-url.
//
//   node fedify_sender.mjs --host 127.0.0.1 --followers followers.json --database-url postgres://… [--workers N]
//
// Prints {"control": "http://host:port"} once listening; POST /post there sends the note and
// answers at once (delivery goes on in the queue's workers; the bench counts at its receiver).
// --workers N > 1 wraps the queue in Fedify's ParallelMessageQueue. Loopback only.
import http from "node:http";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import {
  Create,
  MemoryKvStore,
  Note,
  ParallelMessageQueue,
  PUBLIC_COLLECTION,
  Person,
  createFederation,
} from "@fedify/fedify";
import { PostgresMessageQueue } from "@fedify/postgres";
import postgres from "postgres";

const { values: args } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    followers: { type: "string" },
    "database-url": { type: "string" },
    workers: { type: "string", default: "1" },
  },
});
if (!args.host.startsWith("127.")) {
  console.error(`refusing to bind ${args.host}: this sender is for loopback benchmarks only`);
  process.exit(2);
}
const followerIds = JSON.parse(readFileSync(args.followers, "utf8"));
const recipients = followerIds.map((id) => ({ id: new URL(id), inboxId: new URL(`${id}/inbox`), endpoints: null }));
const USER = "bench";
const NOTE = "Réunion publique mardi 18 h, salle du conseil : le budget participatif 2027. ".repeat(4);

// RSA 2048, as the node's keys (WebCrypto's usual examples use 4096).
const keys = [
  await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  ),
];

const sql = postgres(args["database-url"], { max: 10, onnotice: () => {} });
const workers = Number(args.workers);
const persistent = new PostgresMessageQueue(sql);
const queue = workers > 1 ? new ParallelMessageQueue(persistent, workers) : persistent;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, args.host, resolve));
const ORIGIN = `http://${args.host}:${server.address().port}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  queue,
  origin: ORIGIN,
  allowPrivateAddress: true, // every inbox of the bench is on 127.0.0.x
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const pairs = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      inbox: ctx.getInboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      publicKey: pairs[0].cryptographicKey,
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === USER ? keys : []));

federation.setInboxListeners("/users/{identifier}/inbox", "/inbox");

federation.setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
  if (identifier !== USER) return null;
  return { items: recipients };
});

async function post(ctx) {
  const id = randomUUID();
  const noteId = new URL(`${ORIGIN}/users/${USER}/notes/${id}`);
  const note = new Note({
    id: noteId,
    attribution: ctx.getActorUri(USER),
    content: NOTE,
    to: PUBLIC_COLLECTION,
    cc: ctx.getFollowersUri(USER),
  });
  const create = new Create({
    id: new URL(`${noteId.href}/activity`),
    actor: ctx.getActorUri(USER),
    object: note,
    to: PUBLIC_COLLECTION,
    cc: ctx.getFollowersUri(USER),
  });
  await ctx.sendActivity({ identifier: USER }, "followers", create);
}

server.on("request", async (req, res) => {
  try {
    const url = new URL(req.url, ORIGIN);
    if (req.method === "POST" && url.pathname === "/post") {
      for await (const _ of req);
      await post(federation.createContext(new URL(ORIGIN), undefined));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    // Everything else is Fedify's (the actor document, its key).
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(url, {
      method: req.method,
      headers: req.headers,
      body: ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks),
    });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    res.writeHead(500).end(String(error?.stack ?? error));
  }
});

const stop = new AbortController();
federation.startQueue(undefined, { signal: stop.signal });
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    // Closing the pool rejects the queue's pending LISTEN bookkeeping: nothing to report then.
    process.on("unhandledRejection", () => {});
    stop.abort();
    server.close();
    await sql.end({ timeout: 2 });
    process.exit(0);
  });
}
console.log(JSON.stringify({ control: ORIGIN }));
