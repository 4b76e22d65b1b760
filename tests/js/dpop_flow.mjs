// DPoP end to end with oauth4webapi (a strict third-party client): a public client redeems a code with a DPoP
// proof, refreshes with one, calls a toolkit-protected API and the server's userinfo endpoint with the bound token,
// then tries what an attacker would: the same proof again, the token as a Bearer token, a refresh without a proof.
//
// node dpop_flow.mjs ISSUER CLIENT_ID CALLBACK_URL CODE_VERIFIER REDIRECT_URI API_URL
// prints one JSON object: what each step answered.
import * as oauth from "oauth4webapi";

const [issuerArg, clientId, callbackUrl, codeVerifier, redirectUri, apiUrl] = process.argv.slice(2);
const issuer = new URL(issuerArg);
const insecure = { [oauth.allowInsecureRequests]: true };

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure }),
);
const client = { client_id: clientId };
const auth = oauth.None();
const keyPair = await oauth.generateKeyPair("ES256");
const DPoP = oauth.DPoP(client, keyPair);

// a server nonce (TESSERA_DPOP_NONCE=on) makes the first attempt fail with use_dpop_nonce: oauth4webapi has kept
// the nonce and the second attempt carries it
async function withNonceRetry(request) {
  try {
    return await request();
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) return await request();
    throw err;
  }
}

const params = oauth.validateAuthResponse(as, client, new URL(callbackUrl), "xyz");
const tokens = await withNonceRetry(async () =>
  oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, codeVerifier, {
      DPoP,
      ...insecure,
    }),
  ),
);

const refreshed = await withNonceRetry(async () =>
  oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, { DPoP, ...insecure }),
  ),
);

// the resource request, recording exactly what oauth4webapi sent
let sent;
const recording = (url, init) => {
  sent = new Headers(init.headers);
  return fetch(url, init);
};
const api = await oauth.protectedResourceRequest(refreshed.access_token, "GET", new URL(apiUrl), undefined, undefined, {
  DPoP,
  [oauth.customFetch]: recording,
  ...insecure,
});
const apiBody = await api.text();

const replay = await fetch(apiUrl, { headers: sent });
const downgrade = await fetch(apiUrl, { headers: { Authorization: `Bearer ${refreshed.access_token}` } });

// userinfo (OpenID Connect Core §5.3) with the bound token: oauth4webapi makes the proof (ath, htu, and the
// server's nonce when it has one), and checks the answer's sub against the ID token's
const subject = oauth.getValidatedIdTokenClaims(tokens).sub;
const userinfo = await withNonceRetry(async () =>
  oauth.processUserInfoResponse(
    as,
    client,
    subject,
    await oauth.userInfoRequest(as, client, refreshed.access_token, { DPoP, ...insecure }),
  ),
);
const userinfoDowngrade = await fetch(as.userinfo_endpoint, {
  headers: { Authorization: `Bearer ${refreshed.access_token}` },
});

let refreshWithoutProof = null;
try {
  await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token, insecure),
  );
} catch (err) {
  refreshWithoutProof = err.error ?? String(err);
}

const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
console.log(
  JSON.stringify({
    token_type: tokens.token_type,
    refreshed_token_type: refreshed.token_type,
    access_token: refreshed.access_token,
    api_status: api.status,
    api_body: apiBody,
    replay_status: replay.status,
    replay_challenge: replay.headers.get("www-authenticate"),
    downgrade_status: downgrade.status,
    downgrade_challenge: downgrade.headers.get("www-authenticate"),
    refresh_without_proof: refreshWithoutProof,
    subject,
    userinfo,
    userinfo_downgrade_status: userinfoDowngrade.status,
    userinfo_downgrade_challenge: userinfoDowngrade.headers.get("www-authenticate"),
    jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
  }),
);
