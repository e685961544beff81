// Passkeys (SPEC §7.2) on the browser's own WebAuthn JSON helpers:
// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
// turn the service's options into what `navigator.credentials` takes, and the
// credential's `toJSON()` is what the service verifies. No WebAuthn library.
import type { components } from "./schema.js";
import type { AuthError } from "./index.js";

type PasskeyOut = components["schemas"]["PasskeyOut"];

export interface PasskeyHelpers {
  /** Registers a passkey for the signed-in user (the browser asks for the authenticator). */
  register(name?: string): Promise<PasskeyOut>;
  /** Signs in with a discoverable passkey: no email, no password. */
  signIn(): Promise<{ status: "signed_in" }>;
}

interface Deps {
  call(
    path: string,
    init: { body?: unknown; token?: string | null },
  ): Promise<{ response: Response; body: unknown }>;
  failure(response: Response, body: unknown): AuthError;
  signedIn(body: unknown): { status: "signed_in" };
  token(): Promise<string | null>;
}

const USERS = "/api/v1/users/passkeys";
const LOGIN = "/api/v1/auth/passkeys/login";

function webauthn(): typeof PublicKeyCredential {
  const api = globalThis.PublicKeyCredential;
  if (typeof api?.parseCreationOptionsFromJSON !== "function") {
    throw new Error("This browser lacks the WebAuthn JSON helpers (parseCreationOptionsFromJSON)");
  }
  return api;
}

export function passkeyHelpers(deps: Deps): PasskeyHelpers {
  async function post(path: string, body: unknown, token: string | null = null) {
    const { response, body: answer } = await deps.call(path, { body, token });
    if (!response.ok) throw deps.failure(response, answer);
    return answer;
  }

  return {
    async register(name) {
      const token = await deps.token();
      const options = await post(`${USERS}/register/options`, undefined, token);
      const publicKey = webauthn().parseCreationOptionsFromJSON(
        options as PublicKeyCredentialCreationOptionsJSON,
      );
      const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential;
      const body = name === undefined ? { credential: credential.toJSON() } : { credential: credential.toJSON(), name };
      return (await post(`${USERS}/register/verify`, body, token)) as PasskeyOut;
    },
    async signIn() {
      const options = await post(`${LOGIN}/options`, undefined);
      const publicKey = webauthn().parseRequestOptionsFromJSON(
        options as PublicKeyCredentialRequestOptionsJSON,
      );
      const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential;
      return deps.signedIn(await post(`${LOGIN}/verify`, { credential: credential.toJSON() }));
    },
  };
}
