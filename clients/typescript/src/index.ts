// A typed client for single-page apps (SPEC §7.6). The service keeps the refresh
// token in an HttpOnly cookie (REFRESH_TOKEN_TRANSPORT=cookie); this client keeps
// the access token in memory only, refreshes shortly before it expires and once
// on a 401, and lets one tab of the origin refresh at a time.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { passkeyHelpers, type PasskeyHelpers } from "./passkeys.js";
import type { components, paths } from "./schema.js";
import {
  Session,
  type ChannelLike,
  type Listener,
  type LockManagerLike,
  type TokenAnswer,
} from "./session.js";

export type { components, paths } from "./schema.js";
export type { ChannelLike, Listener, LockManagerLike } from "./session.js";
export type { PasskeyHelpers } from "./passkeys.js";

export type TokenPair = components["schemas"]["TokenPair"];
export type ErrorOut = components["schemas"]["ErrorOut"];
export type PasskeyOut = components["schemas"]["PasskeyOut"];

export type LoginResult =
  | { status: "signed_in" }
  | { status: "mfa_required"; mfaToken: string; methods: string[] };

export interface AuthClientOptions {
  /** The service's origin, e.g. `https://api.example.com` (paths start at `/api/v1`). */
  baseUrl: string;
  /** Refresh this many seconds before the access token expires (default 60). */
  refreshMarginSeconds?: number;
  /** For tests and non-browser hosts; default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Default `navigator.locks` where it exists; `null` turns cross-tab locking off. */
  locks?: LockManagerLike | null;
  /** Default a `BroadcastChannel` named after `lockName`; `null` turns sharing off. */
  channel?: ChannelLike | null;
  /** Name of the Web Lock and the channel; tabs of one origin and service share it. */
  lockName?: string;
}

export interface AuthClient {
  /** The typed `openapi-fetch` client: access token attached, one retry after a refresh on 401. */
  api: Client<paths>;
  login(credentials: { email: string; password: string }): Promise<LoginResult>;
  verifyMfa(step: { mfaToken: string; code: string }): Promise<{ status: "signed_in" }>;
  /** Ends the session on the service (also for a tab without an access token) and in every tab. */
  logout(): Promise<void>;
  /** Trades the cookie for a new access token; null when there is no session (any more). */
  refresh(): Promise<string | null>;
  /** The current access token, or null. */
  accessToken(): string | null;
  /** Called with the new access token (or null) whenever it changes, here or in another tab. */
  onChange(listener: Listener): () => void;
  passkeys: PasskeyHelpers;
  /** Stops timers and leaves the channel (for tests and page teardown). */
  close(): void;
}

/** An answer of the service that was not a success: its status and `{detail, code}`. */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly body: unknown = undefined,
  ) {
    super(detail);
    this.name = "AuthError";
  }
}

const AUTH = "/api/v1/auth";
// Routes that carry no access token of ours, so a 401 there is the answer itself.
const NO_RETRY = new Set([
  `${AUTH}/login`,
  `${AUTH}/token`,
  `${AUTH}/refresh`,
  `${AUTH}/logout`,
  `${AUTH}/mfa/verify`,
  `${AUTH}/passkeys/login/options`,
  `${AUTH}/passkeys/login/verify`,
]);

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const lockName = options.lockName ?? `auth-backend-session:${baseUrl}`;
  const locks =
    options.locks !== undefined
      ? options.locks
      : ((globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks ?? null);
  const channel =
    options.channel !== undefined
      ? options.channel
      : typeof BroadcastChannel === "function"
        ? new BroadcastChannel(lockName)
        : null;

  // Every call sends the cookie; the refresh token is never seen by this code.
  async function call(path: string, init: { body?: unknown; token?: string | null }) {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    if (init.token) headers.Authorization = `Bearer ${init.token}`;
    const response = await fetchImpl(
      new Request(baseUrl + path, {
        method: "POST",
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        credentials: "include",
      }),
    );
    const text = response.status === 204 ? "" : await response.text();
    return { response, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  function failure(response: Response, body: unknown): AuthError {
    const error = (body ?? {}) as Partial<ErrorOut>;
    const code = typeof error.code === "string" ? error.code : `http_${response.status}`;
    const detail = typeof error.detail === "string" ? error.detail : response.statusText;
    return new AuthError(response.status, code, detail, body);
  }

  const session = new Session({
    locks,
    channel,
    lockName,
    marginSeconds: options.refreshMarginSeconds ?? 60,
    now: () => Date.now(),
    refresh: async () => {
      const { response, body } = await call(`${AUTH}/refresh`, { body: {} });
      if (response.ok) return body as TokenAnswer;
      if (response.status === 401) return null; // the session is over
      throw failure(response, body);
    },
  });

  const originals = new WeakMap<Request, Request>();
  const bearer: Middleware = {
    async onRequest({ request, schemaPath }) {
      if (NO_RETRY.has(schemaPath)) return request;
      const current = session.accessToken();
      const token = current && session.stale() ? await session.refresh() : current;
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      originals.set(request, request.clone());
      return request;
    },
    async onResponse({ request, response, schemaPath }) {
      const original = originals.get(request);
      originals.delete(request);
      if (response.status !== 401 || NO_RETRY.has(schemaPath) || !original) return response;
      const token = await session.refresh();
      if (!token) return response;
      original.headers.set("Authorization", `Bearer ${token}`);
      return fetchImpl(original);
    },
  };
  const api = createClient<paths>({ baseUrl, fetch: fetchImpl, credentials: "include" });
  api.use(bearer);

  function signedIn(body: unknown): { status: "signed_in" } {
    session.signedIn(body as TokenAnswer);
    return { status: "signed_in" };
  }

  // Calls that set the cookie wait for any refresh to finish (and hold others off),
  // so a refresh that began without a cookie cannot sign this new session out.
  const setsCookie: typeof call = (path, init) => session.exclusive(() => call(path, init));

  return {
    api,
    async login({ email, password }) {
      const { response, body } = await setsCookie(`${AUTH}/login`, { body: { email, password } });
      if (response.ok) return signedIn(body);
      const error = (body ?? {}) as { code?: string; mfa_token?: string; methods?: string[] };
      if (response.status === 403 && error.code === "mfa_required" && error.mfa_token) {
        return { status: "mfa_required", mfaToken: error.mfa_token, methods: error.methods ?? [] };
      }
      throw failure(response, body);
    },
    async verifyMfa({ mfaToken, code }) {
      const { response, body } = await setsCookie(`${AUTH}/mfa/verify`, {
        body: { mfa_token: mfaToken, code },
      });
      if (!response.ok) throw failure(response, body);
      return signedIn(body);
    },
    async logout() {
      try {
        await session.exclusive(async () => {
          const token = session.accessToken();
          const { response, body } = await call(`${AUTH}/logout`, { body: {}, token });
          // 401: nothing left to end on the service; this tab is signed out all the same.
          if (!response.ok && response.status !== 401) throw failure(response, body);
        });
      } finally {
        session.signedOut();
      }
    },
    refresh: () => session.refresh(),
    accessToken: () => session.accessToken(),
    onChange: (listener) => session.onChange(listener),
    passkeys: passkeyHelpers({
      call: setsCookie,
      failure,
      signedIn,
      token: async () => (session.stale() ? session.refresh() : session.accessToken()),
    }),
    close: () => session.close(),
  };
}
