// An OpenID Connect code flow with oauth4webapi, from the authorization response on: discovery (as an OpenID
// Provider), the callback's state and iss, the code exchange with PKCE, the ID token (claims, nonce, at_hash, and
// its signature against the issuer's JWKS), then userinfo.
// Arguments: issuer, client_id, client_secret, redirect_uri, callback_url, code_verifier, state, nonce.
// Prints {"claims": ..., "userinfo": ..., "discovery": ...}.
import * as oauth from "oauth4webapi";

const [issuerUrl, clientId, clientSecret, redirectUri, callbackUrl, codeVerifier, state, nonce] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const insecure = { [oauth.allowInsecureRequests]: true };

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure }),
);
const client = { client_id: clientId };
const clientAuth = oauth.ClientSecretBasic(clientSecret);

const params = oauth.validateAuthResponse(as, client, new URL(callbackUrl), state);
const response = await oauth.authorizationCodeGrantRequest(
  as, client, clientAuth, params, redirectUri, codeVerifier, insecure,
);
const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
  expectedNonce: nonce,
  requireIdToken: true,
});
await oauth.validateApplicationLevelSignature(as, response, insecure);
const claims = oauth.getValidatedIdTokenClaims(result);

const userinfo = await oauth.processUserInfoResponse(
  as, client, claims.sub, await oauth.userInfoRequest(as, client, result.access_token, insecure),
);
console.log(JSON.stringify({ claims, userinfo, token_type: result.token_type, discovery: as }));
