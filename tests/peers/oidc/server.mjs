// A strict OAuth 2.0 authorization server for Connectory's integration tests (oidc-provider).
//   node tests/peers/oidc/server.mjs PORT [SHORT_TTL_SECONDS]   (listens on 127.0.0.1 only)
// Access tokens live 60 s; those of clients named short-* live SHORT_TTL s (default 2, or env
// OIDC_SHORT_TTL). Clients (test secrets; ID-secret unless shown):
//   cc-basic, short-cc  client_credentials, client_secret_basic; cc-basic's secret needs
//                       RFC 6749 form-encoding.  cc-post: the same with client_secret_post
//   web-app, short-web  authorization_code + refresh_token (scope offline_access)
//   resource-server     the only client allowed to introspect
//   connectory, short-connectory  authorization_code + refresh_token for Connectory's own flow:
//                       native clients with the loopback redirect URIs
//                       http://127.0.0.1/oauth/callback and http://127.0.0.1/callback (any
//                       port, RFC 8252 7.3), client_secret_basic, PKCE required
// GET /__test/counts answers how many token and revocation requests each client made, by
// grant type and status ("connectory refresh_token 200": 1), so tests can count what reached
// the provider.
// Scope "admin" exists but no client may have it. Refresh tokens rotate on every use. The dev
// login/consent forms (devInteractions) stay on: a script can get a code without a browser.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT [SHORT_TTL_SECONDS]');
  process.exit(2);
}
const shortTtl = Number(process.argv[3] ?? process.env.OIDC_SHORT_TTL ?? 2);
const lifetime = (_ctx, _token, client) => (client.clientId.startsWith('short-') ? shortTtl : 60);
const none = { response_types: [], redirect_uris: [] };
const cc = (id, secret, method) => ({
  ...none, client_id: id, client_secret: secret, token_endpoint_auth_method: method,
  grant_types: ['client_credentials'], scope: 'read write',
});
const web = (id) => ({
  client_id: id, client_secret: `${id}-secret`, grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'], redirect_uris: ['http://127.0.0.1/callback'],
  scope: 'openid offline_access read write',
});
const native = (id) => ({
  ...web(id), application_type: 'native',
  redirect_uris: ['http://127.0.0.1/oauth/callback', 'http://127.0.0.1/callback'],
});

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    cc('cc-basic', 'b+s:%2F ~!', 'client_secret_basic'),
    cc('cc-post', 'cc-post-secret', 'client_secret_post'),
    cc('short-cc', 'short-cc-secret', 'client_secret_basic'),
    web('web-app'),
    web('short-web'),
    { ...none, client_id: 'resource-server', client_secret: 'rs-secret', grant_types: [] },
    native('connectory'),
    native('short-connectory'),
  ],
  pkce: {
    required: (_ctx, client) => client.clientAuthMethod === 'none'
      || client.clientId.endsWith('connectory'),
  },
  scopes: ['openid', 'offline_access', 'read', 'write', 'admin'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client) => client.clientId === 'resource-server',
    },
  },
  ttl: { AccessToken: lifetime, ClientCredentials: lifetime, RefreshToken: 3600 },
  rotateRefreshToken: true,
});

const counts = {};
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/counts') {
    ctx.body = counts;
    return;
  }
  await next();
  if (ctx.method === 'POST' && (ctx.path === '/token' || ctx.path === '/token/revocation')) {
    const client = ctx.oidc?.client?.clientId ?? 'unknown';
    const what = ctx.path === '/token' ? (ctx.oidc?.params?.grant_type ?? 'unknown') : 'revocation';
    const key = `${client} ${what} ${ctx.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1');
console.log(`oidc-provider listening on http://127.0.0.1:${port} (short TTL ${shortTtl} s)`);
