// Unit tests of the built package (dist/) against an in-process fake of the
// service: rotation with reuse detection, a cookie jar shared by the "tabs" of
// one browser, Web Locks and BroadcastChannel as Node provides or fakes them.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, test } from "node:test";
import { AuthError, createAuthClient } from "../dist/index.js";

const BASE = "http://api.test";

/** The service as the client sees it, and the browser's cookie jar. */
class FakeService {
  constructor({ expiresIn = 1800, refreshDelayMs = 15 } = {}) {
    this.expiresIn = expiresIn;
    this.refreshDelayMs = refreshDelayMs;
    this.jar = null; // the refresh cookie's value
    this.refreshTokens = new Map(); // token -> { session, used }
    this.sessions = new Map(); // id -> { revoked }
    this.access = new Map(); // access token -> session id
    this.counter = 0;
    this.reuse = 0;
    this.refreshes = 0;
    this.requests = [];
    this.mfa = false;
    this.fetch = this.fetch.bind(this);
  }

  issue(session) {
    const refresh = `rt-${++this.counter}`;
    const access = `at-${this.counter}`;
    this.refreshTokens.set(refresh, { session, used: false });
    this.access.set(access, session);
    this.jar = refresh;
    return { access_token: access, refresh_token: null, token_type: "bearer", expires_in: this.expiresIn };
  }

  alive(session) {
    return this.sessions.has(session) && !this.sessions.get(session).revoked;
  }

  async fetch(input, init) {
    const request = input instanceof Request ? input : new Request(input, init);
    const path = new URL(request.url).pathname;
    const auth = request.headers.get("authorization");
    const text = request.method === "GET" ? "" : await request.text();
    this.requests.push({ path, auth, credentials: request.credentials, body: text });
    const json = (status, body) =>
      new Response(body === undefined ? null : JSON.stringify(body), {
        status,
        headers: { "Content-Type": "application/json" },
      });
    const bearerSession = () => {
      const token = auth?.replace(/^Bearer /, "");
      const session = token && this.access.get(token);
      return session && this.alive(session) ? session : null;
    };
    switch (path) {
      case "/api/v1/auth/login": {
        const body = JSON.parse(text);
        if (body.password !== "right") return json(401, { detail: "no", code: "invalid_credentials" });
        if (this.mfa) {
          return json(403, {
            detail: "second factor",
            code: "mfa_required",
            mfa_token: "mfa-1",
            methods: ["totp", "recovery_code"],
          });
        }
        const session = `s-${++this.counter}`;
        this.sessions.set(session, { revoked: false });
        return json(200, this.issue(session));
      }
      case "/api/v1/auth/mfa/verify": {
        const body = JSON.parse(text);
        if (body.mfa_token !== "mfa-1" || body.code !== "123456") {
          return json(400, { detail: "wrong", code: "invalid_mfa_code" });
        }
        const session = `s-${++this.counter}`;
        this.sessions.set(session, { revoked: false });
        return json(200, this.issue(session));
      }
      case "/api/v1/auth/refresh": {
        this.refreshes += 1;
        const presented = this.jar;
        await sleep(this.refreshDelayMs); // long enough for tabs to overlap
        const entry = presented && this.refreshTokens.get(presented);
        if (!entry || !this.alive(entry.session)) return json(401, { detail: "x", code: "invalid_refresh_token" });
        if (entry.used) {
          this.reuse += 1;
          this.sessions.get(entry.session).revoked = true;
          this.jar = null;
          return json(401, { detail: "x", code: "invalid_refresh_token" });
        }
        entry.used = true;
        return json(200, this.issue(entry.session));
      }
      case "/api/v1/auth/logout": {
        const session = bearerSession() ?? this.refreshTokens.get(this.jar)?.session;
        this.jar = null;
        if (!session || !this.alive(session)) return json(401, { detail: "x", code: "not_authenticated" });
        this.sessions.get(session).revoked = true;
        return new Response(null, { status: 204 });
      }
      case "/api/v1/auth/passkeys/login/options":
        return json(200, { challenge: "login-challenge", allowCredentials: [] });
      case "/api/v1/auth/passkeys/login/verify": {
        if (JSON.parse(text).credential?.id !== "cred-1") return json(401, { detail: "x", code: "invalid_credentials" });
        const session = `s-${++this.counter}`;
        this.sessions.set(session, { revoked: false });
        return json(200, this.issue(session));
      }
      case "/api/v1/users/passkeys/register/options":
        if (!bearerSession()) return json(401, { detail: "x", code: "not_authenticated" });
        return json(200, { challenge: "register-challenge" });
      case "/api/v1/users/passkeys/register/verify": {
        if (!bearerSession()) return json(401, { detail: "x", code: "not_authenticated" });
        const body = JSON.parse(text);
        return json(201, { id: "p-1", name: body.name ?? "Passkey", seen: body.credential });
      }
      case "/api/v1/users/profile": {
        if (!bearerSession()) return json(401, { detail: "x", code: "not_authenticated" });
        return json(200, { email: "ada@example.com" });
      }
      default:
        return json(404, { detail: "Not found", code: "not_found" });
    }
  }
}

/** Web Locks as a browser gives them: one holder per name, others queue. */
function fakeLocks() {
  const tails = new Map();
  return {
    request(name, callback) {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(() => callback());
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}

const open = [];
function tab(service, extra = {}) {
  const client = createAuthClient({ baseUrl: BASE, fetch: service.fetch, lockName: "test", ...extra });
  open.push(client);
  return client;
}

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

async function until(predicate, what) {
  for (let i = 0; i < 200; i++) {
    if (predicate()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("login keeps the access token in memory and sends the cookie", async () => {
  const service = new FakeService();
  const auth = tab(service, { channel: null, locks: null });
  assert.equal(auth.accessToken(), null);
  assert.deepEqual(await auth.login({ email: "ada@example.com", password: "right" }), {
    status: "signed_in",
  });
  assert.match(auth.accessToken(), /^at-/);
  assert.equal(service.requests[0].credentials, "include");
  const { data, error } = await auth.api.GET("/api/v1/users/profile");
  assert.equal(error, undefined);
  assert.equal(data.email, "ada@example.com");
  assert.equal(service.requests.at(-1).auth, `Bearer ${auth.accessToken()}`);
  assert.equal(service.requests.at(-1).credentials, "include");
  assert.equal(typeof globalThis.localStorage, "undefined"); // nothing could have been stored
});

test("a wrong password is an AuthError with the service's code", async () => {
  const auth = tab(new FakeService(), { channel: null, locks: null });
  await assert.rejects(auth.login({ email: "a@b.c", password: "wrong" }), (error) => {
    assert.ok(error instanceof AuthError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_credentials");
    return true;
  });
});

test("an account with a second factor answers mfa_required, then verifyMfa signs in", async () => {
  const service = new FakeService();
  service.mfa = true;
  const auth = tab(service, { channel: null, locks: null });
  const first = await auth.login({ email: "ada@example.com", password: "right" });
  assert.deepEqual(first, { status: "mfa_required", mfaToken: "mfa-1", methods: ["totp", "recovery_code"] });
  assert.equal(auth.accessToken(), null);
  await assert.rejects(auth.verifyMfa({ mfaToken: "mfa-1", code: "000000" }), /wrong/);
  assert.deepEqual(await auth.verifyMfa({ mfaToken: "mfa-1", code: "123456" }), { status: "signed_in" });
  assert.match(auth.accessToken(), /^at-/);
});

test("a 401 is answered by one refresh and one retry", async () => {
  const service = new FakeService();
  const auth = tab(service, { channel: null, locks: null });
  await auth.login({ email: "ada@example.com", password: "right" });
  const before = auth.accessToken();
  service.access.delete(before); // the service no longer takes it
  const { data } = await auth.api.GET("/api/v1/users/profile");
  assert.equal(data.email, "ada@example.com");
  assert.notEqual(auth.accessToken(), before);
  assert.equal(service.refreshes, 1);
  // When the refresh fails too, the 401 comes back once: no loop, signed out.
  service.access.delete(auth.accessToken());
  service.jar = null;
  const { error, response } = await auth.api.GET("/api/v1/users/profile");
  assert.equal(response.status, 401);
  assert.equal(error.code, "not_authenticated");
  assert.equal(service.refreshes, 2);
  assert.equal(auth.accessToken(), null);
});

test("a fresh page restores the session from the cookie", async () => {
  const service = new FakeService();
  await tab(service, { channel: null, locks: null }).login({ email: "a@b.c", password: "right" });
  const reloaded = tab(service, { channel: null, locks: null });
  assert.equal(reloaded.accessToken(), null);
  assert.match(await reloaded.refresh(), /^at-/);
  assert.equal(service.requests.at(-1).body, "{}");
});

test("the token is refreshed shortly before it expires", async () => {
  const service = new FakeService({ expiresIn: 0.2, refreshDelayMs: 0 });
  const auth = tab(service, { channel: null, locks: null, refreshMarginSeconds: 60 });
  await auth.login({ email: "a@b.c", password: "right" });
  const first = auth.accessToken();
  // Margin is capped at half the lifetime: the timer fires after ~100 ms.
  await until(() => auth.accessToken() !== first, "the scheduled refresh");
  assert.ok(service.refreshes >= 1);
  assert.equal(service.reuse, 0);
});

test("calls made with a token inside the margin refresh first", async () => {
  const service = new FakeService({ expiresIn: 100, refreshDelayMs: 0 });
  const auth = tab(service, { channel: null, locks: null, refreshMarginSeconds: 60 });
  await auth.login({ email: "a@b.c", password: "right" });
  const first = auth.accessToken();
  // 100 s tokens with a 60 s margin are capped to 50 s: inside it after a fake 51 s.
  const realNow = Date.now;
  Date.now = () => realNow() + 51_000;
  try {
    await auth.api.GET("/api/v1/users/profile");
  } finally {
    Date.now = realNow;
  }
  assert.equal(service.refreshes, 1);
  assert.equal(service.requests.at(-1).auth, `Bearer ${auth.accessToken()}`);
  assert.notEqual(auth.accessToken(), first);
});

test("tabs refreshing together present each refresh token once and share the result", async () => {
  const service = new FakeService();
  const locks = fakeLocks();
  const tabs = [tab(service, { locks }), tab(service, { locks }), tab(service, { locks })];
  await tabs[0].login({ email: "a@b.c", password: "right" });
  await until(() => tabs.every((t) => t.accessToken() === tabs[0].accessToken()), "the login to reach every tab");
  const results = await Promise.all(tabs.flatMap((t) => [t.refresh(), t.refresh()]));
  assert.equal(service.reuse, 0);
  assert.ok(results.every((token) => typeof token === "string"));
  await until(() => tabs.every((t) => t.accessToken() === tabs[0].accessToken()), "one token in every tab");
  assert.ok(service.refreshes <= 3, `refreshes: ${service.refreshes}`);
  const { response } = await tabs[2].api.GET("/api/v1/users/profile");
  assert.equal(response.status, 200);
});

test("without the lock the same tabs would trip reuse detection (the fake detects it)", async () => {
  const service = new FakeService();
  const tabs = [tab(service, { locks: null, channel: null }), tab(service, { locks: null, channel: null })];
  await tabs[0].login({ email: "a@b.c", password: "right" });
  await Promise.all(tabs.map((t) => t.refresh()));
  assert.equal(service.reuse, 1);
});

test("logout in one tab signs out the others", async () => {
  const service = new FakeService();
  const locks = fakeLocks();
  const [one, two] = [tab(service, { locks }), tab(service, { locks })];
  const seen = [];
  two.onChange((token) => seen.push(token));
  await one.login({ email: "a@b.c", password: "right" });
  await until(() => two.accessToken() !== null, "the login to reach tab two");
  await one.logout();
  assert.equal(one.accessToken(), null);
  await until(() => two.accessToken() === null, "the logout to reach tab two");
  assert.deepEqual(seen.at(-1), null);
  assert.equal(await two.refresh(), null); // the cookie is gone too
  const last = service.requests.find((r) => r.path === "/api/v1/auth/logout");
  assert.match(last.auth, /^Bearer at-/);
});

test("a tab without an access token can still log out (the cookie names the session)", async () => {
  const service = new FakeService();
  await tab(service, { channel: null, locks: null }).login({ email: "a@b.c", password: "right" });
  const fresh = tab(service, { channel: null, locks: null });
  await fresh.logout();
  assert.equal([...service.sessions.values()].filter((s) => s.revoked).length, 1);
  const logout = service.requests.at(-1);
  assert.equal(logout.auth, null);
});

test("passkey helpers need the browser's WebAuthn JSON API", async () => {
  const auth = tab(new FakeService(), { channel: null, locks: null });
  await assert.rejects(auth.passkeys.signIn(), /WebAuthn JSON helpers/);
});

test("passkey helpers go through parse*FromJSON, navigator.credentials and toJSON()", async (t) => {
  const service = new FakeService();
  const auth = tab(service, { channel: null, locks: null });
  const calls = [];
  globalThis.PublicKeyCredential = {
    parseCreationOptionsFromJSON: (options) => ({ parsedCreation: options.challenge }),
    parseRequestOptionsFromJSON: (options) => ({ parsedRequest: options.challenge }),
  };
  const credentials = {
    create: async (options) => {
      calls.push(["create", options]);
      return { toJSON: () => ({ id: "cred-1", type: "public-key" }) };
    },
    get: async (options) => {
      calls.push(["get", options]);
      return { toJSON: () => ({ id: "cred-1", type: "public-key" }) };
    },
  };
  Object.defineProperty(globalThis, "navigator", { value: { credentials }, configurable: true });
  t.after(() => {
    delete globalThis.PublicKeyCredential;
    delete globalThis.navigator;
  });
  assert.deepEqual(await auth.passkeys.signIn(), { status: "signed_in" });
  assert.deepEqual(calls[0], ["get", { publicKey: { parsedRequest: "login-challenge" } }]);
  assert.match(auth.accessToken(), /^at-/);
  const added = await auth.passkeys.register("Laptop");
  assert.deepEqual(calls[1], ["create", { publicKey: { parsedCreation: "register-challenge" } }]);
  assert.deepEqual(added, { id: "p-1", name: "Laptop", seen: { id: "cred-1", type: "public-key" } });
  assert.equal(service.requests.at(-1).auth, `Bearer ${auth.accessToken()}`);
});
