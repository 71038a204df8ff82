// oauth2-mock-server for Connectory's integration tests, with a settable token lifetime.
//   node tests/peers/oidc/mock-server.mjs PORT [TOKEN_TTL_SECONDS]
// Its CLI has no lifetime option (tokens always say 3600 s), so this uses the library's hooks:
// beforeTokenSigning sets the JWT's exp, beforeResponse the token response's expires_in.
// Listens on 127.0.0.1 only; signs RS256 JWTs with a fresh key published at /jwks.
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node mock-server.mjs PORT [TOKEN_TTL_SECONDS]');
  process.exit(2);
}
const ttl = Number(process.argv[3] ?? process.env.MOCK_TOKEN_TTL ?? 3600);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeTokenSigning', (token) => {
  token.payload.exp = token.payload.iat + ttl;
});
server.service.on('beforeResponse', (response) => {
  if (response.statusCode === 200 && response.body.access_token) {
    response.body.expires_in = ttl;
  }
});
await server.start(port, '127.0.0.1');
// The library names its issuer http://localhost:PORT; keep every URL it publishes on 127.0.0.1.
server.issuer.url = `http://127.0.0.1:${port}`;
console.log(`oauth2-mock-server listening on ${server.issuer.url} (token TTL ${ttl} s)`);
