// The TypeScript of README's "Using it from an SPA" section, exactly (tests/test_typescript_client.py
// keeps the two equal); `npm run typecheck` compiles it under tsc --strict.
import { createAuthClient, AuthError } from "@auth-backend/client";

const auth = createAuthClient({ baseUrl: "https://api.example.com" });

export async function start(): Promise<boolean> {
  return (await auth.refresh()) !== null; // a reload: the cookie may hold a session
}

export async function signIn(email: string, password: string, askCode: () => Promise<string>) {
  try {
    const result = await auth.login({ email, password });
    if (result.status === "mfa_required") {
      await auth.verifyMfa({ mfaToken: result.mfaToken, code: await askCode() });
    }
  } catch (error) {
    if (error instanceof AuthError && error.code === "account_locked") throw new Error("Locked");
    throw error;
  }
}

export async function whoAmI(): Promise<string | undefined> {
  const { data } = await auth.api.GET("/api/v1/users/profile"); // Bearer added, typed answer
  return data?.email;
}

auth.onChange((token) => document.body.classList.toggle("signed-in", token !== null));
export const addPasskey = () => auth.passkeys.register("This device");
export const signInWithPasskey = () => auth.passkeys.signIn();
export const signOut = () => auth.logout(); // every tab of the origin is signed out
