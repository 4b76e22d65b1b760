// The device authorization grant (RFC 8628) with oauth4webapi, as a command-line tool runs it: ask for a device
// code, print it, poll the token endpoint until there is an answer.
// Usage: node device_flow.mjs ISSUER CLIENT_ID SCOPE
// Prints one JSON line for the device authorization response, one per poll answered with an error
// ({"poll": error}), and a last line: {"outcome": "token", ...} or {"outcome": "error", "error": ...}.
import * as oauth from "oauth4webapi";

const [issuerUrl, clientId, scope] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const insecure = { [oauth.allowInsecureRequests]: true };
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
);
const client = { client_id: clientId };
const clientAuth = oauth.None();

const started = await oauth.processDeviceAuthorizationResponse(
  as,
  client,
  await oauth.deviceAuthorizationRequest(as, client, clientAuth, { scope }, insecure),
);
say(started);

let interval = started.interval ?? 5;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, interval * 1000));
  const response = await oauth.deviceCodeGrantRequest(as, client, clientAuth, started.device_code, insecure);
  try {
    const token = await oauth.processDeviceCodeResponse(as, client, response);
    say({
      outcome: "token",
      token_type: token.token_type,
      scope: token.scope,
      expires_in: token.expires_in,
      access_token: token.access_token,
    });
    break;
  } catch (err) {
    if (!(err instanceof oauth.ResponseBodyError)) throw err;
    if (err.error === "slow_down") interval += 5;
    if (err.error === "slow_down" || err.error === "authorization_pending") {
      say({ poll: err.error });
      continue;
    }
    say({ outcome: "error", error: err.error, status: err.status });
    break;
  }
}
