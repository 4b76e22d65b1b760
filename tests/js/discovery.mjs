// Discovery with oauth4webapi: prints the issuer's metadata as the library validated it.
import * as oauth from "oauth4webapi";

const issuer = new URL(process.argv[2]);
const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", [oauth.allowInsecureRequests]: true });
const as = await oauth.processDiscoveryResponse(issuer, response);
console.log(JSON.stringify(as));
