// private_key_jwt with oauth4webapi (a strict third-party client): a client_credentials token with an assertion
// signed by the registered key, an introspection of it the same way, and a token request signed by a key the
// server does not know.
//
// node private_key_jwt.mjs ISSUER CLIENT_ID PRIVATE_JWK UNREGISTERED_PRIVATE_JWK
// prints one JSON object: what each step answered.
import * as oauth from "oauth4webapi";

const [issuerArg, clientId, registeredJwk, strangerJwk] = process.argv.slice(2);
const issuer = new URL(issuerArg);
const insecure = { [oauth.allowInsecureRequests]: true };
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
);
const client = { client_id: clientId };

async function auth(jwkText) {
  const jwk = JSON.parse(jwkText);
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  return oauth.PrivateKeyJwt({ key, kid: jwk.kid });
}

const registered = await auth(registeredJwk);
const token = await oauth.processClientCredentialsResponse(
  as,
  client,
  await oauth.clientCredentialsGrantRequest(as, client, registered, { scope: "api" }, insecure),
);
const introspected = await oauth.processIntrospectionResponse(
  as,
  client,
  await oauth.introspectionRequest(as, client, registered, token.access_token, insecure),
);

let stranger = null;
try {
  await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, await auth(strangerJwk), { scope: "api" }, insecure),
  );
} catch (err) {
  // a 401 carries a WWW-Authenticate challenge (RFC 6749 §5.2), which oauth4webapi reports as such; the body
  // still says why
  let error = err.error;
  if (error === undefined && err instanceof oauth.WWWAuthenticateChallengeError) {
    error = (await err.response.json()).error;
  }
  stranger = { error: error ?? String(err), status: err.status ?? null };
}

console.log(
  JSON.stringify({
    token_type: token.token_type,
    access_token: token.access_token,
    active: introspected.active,
    client_id: introspected.client_id,
    stranger,
  }),
);
