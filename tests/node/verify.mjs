// Verifies access tokens the way another team's service would: jose's
// createRemoteJWKSet + jwtVerify, issuer and audience = the service's base URL.
//
//   node verify.mjs <jwks url> <issuer> < tokens (one a line)
//
// Prints one JSON line per token: {"ok": true, "kid", "sub", "role", "amr"} or
// {"ok": false, "error": <jose error code>}. One key set object serves every
// line, as in a long-running service, so a rotation is seen through its cache.
import { createInterface } from "node:readline";
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer] = process.argv.slice(2);
const keys = createRemoteJWKSet(new URL(jwksUrl));
const lines = createInterface({ input: process.stdin });

for await (const line of lines) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer,
      audience: issuer,
    });
    console.log(
      JSON.stringify({
        ok: true,
        kid: protectedHeader.kid,
        sub: payload.sub,
        role: payload.role,
        amr: payload.amr,
      }),
    );
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: error.code ?? String(error) }));
  }
}
