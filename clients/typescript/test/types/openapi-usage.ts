// How an SPA uses the generated types directly, without createAuthClient:
// `npm run typecheck` compiles this under `tsc --strict` against src/schema.ts
// (generated from the service's OpenAPI document); it never runs. Catches
// untyped bodies, missing error schemas and a role that is not an enum.
import createClient from "openapi-fetch";
import type { components, paths } from "../../src/schema.js";

type Role = components["schemas"]["Role"];
type ErrorOut = components["schemas"]["ErrorOut"];

const api = createClient<paths>({ baseUrl: "http://localhost:8000" });

export async function signIn(email: string, password: string): Promise<string> {
  const { data, error, response } = await api.POST("/api/v1/auth/login", {
    body: { email, password },
  });
  if (error) {
    // Error bodies are typed: `{detail, code}`, or FastAPI's own 422 shape.
    if (!("code" in error)) throw new Error("validation error");
    const code: string = error.code;
    if (response.status === 423 && "locked_until" in error) {
      const until: string = error.locked_until;
      throw new Error(`locked until ${until}`);
    }
    throw new Error(code);
  }
  const pair: {
    access_token: string;
    refresh_token: string | null;
    token_type: "bearer";
    expires_in: number;
  } = data;
  return pair.access_token;
}

export async function swaggerStyleLogin(username: string, password: string): Promise<number> {
  const { data } = await api.POST("/api/v1/auth/token", {
    // openapi-typescript treats fields with a default (scope = "") as required.
    body: { username, password, grant_type: "password", scope: "" },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
  });
  return data?.expires_in ?? 0;
}

export async function profile(token: string): Promise<Role> {
  const headers = { Authorization: `Bearer ${token}` };
  const { data, error } = await api.GET("/api/v1/users/profile", { headers });
  if (error) {
    const failure: ErrorOut = error;
    throw new Error(failure.code);
  }
  const role: Role = data.role;
  const roles: Role[] = ["admin", "user", "guest"];
  // @ts-expect-error: the role is an enum, not any string
  const wrong: Role = "superuser";
  void wrong;
  const providers: string[] = data.oauth_providers;
  void providers;
  return roles.includes(role) ? role : "guest";
}

export async function sessions(token: string): Promise<string[]> {
  const headers = { Authorization: `Bearer ${token}` };
  const { data } = await api.GET("/api/v1/users/sessions", { headers });
  const current = (data ?? []).filter((s) => s.current).map((s) => s.id);
  await api.DELETE("/api/v1/users/sessions/{session_id}", {
    headers,
    params: { path: { session_id: current[0] ?? "" } },
  });
  return current;
}

export async function operatorView(token: string): Promise<string> {
  const headers = { Authorization: `Bearer ${token}` };
  const health = await api.GET("/api/v1/health/detailed", { headers });
  const status: "ok" | "degraded" | "down" | undefined = health.data?.status;
  const redis: "ok" | "down" | "not_configured" | undefined = health.data?.redis.status;
  const database = await api.GET("/api/v1/health/database", { headers });
  const p95: number | null | undefined = database.data?.p95_ms;
  const stats = await api.GET("/api/v1/cache/stats", { headers });
  const hits: number | undefined = stats.data?.hits;
  const cleared = await api.DELETE("/api/v1/cache", { headers });
  const deleted: number | undefined = cleared.data?.deleted;
  return `${status} ${redis} ${p95} ${hits} ${deleted}`;
}
