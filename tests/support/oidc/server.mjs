// A real OpenID Connect provider for popfetch's OAuth tests (oidc-provider, in memory).
//
// Listens on 127.0.0.1, port 0, and prints one JSON line {"issuer": ...} once it serves.
// One native client (popfetch-test: public, PKCE required, loopback redirect on any port,
// code + refresh + device grants), one confidential client for Dovecot's introspection, and
// one account whose sub is the mail address. Access tokens live ACCESS_TTL seconds.
import http from 'node:http';
import Provider from 'oidc-provider';

const mailbox = process.env.OIDC_MAILBOX;
const accessTtl = Number(process.env.OIDC_ACCESS_TTL || '5');
const introspectionSecret = process.env.OIDC_INTROSPECTION_SECRET;
if (!mailbox || !introspectionSecret) {
  console.error('OIDC_MAILBOX and OIDC_INTROSPECTION_SECRET must be set');
  process.exit(2);
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'popfetch-test',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/'],
        grant_types: ['authorization_code', 'refresh_token',
          'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      {
        client_id: 'dovecot',
        client_secret: introspectionSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'pop'],
    features: {
      devInteractions: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
    },
    // Refresh tokens for every client allowed the grant (as Google's access_type=offline).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: accessTtl,
      RefreshToken: 3600,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 3600,
      Interaction: 600,
      Session: 3600,
      IdToken: 3600,
    },
    findAccount: async (ctx, id) => (id === mailbox
      ? { accountId: id, claims: async () => ({ sub: id, email: id }) }
      : undefined),
    cookies: { keys: ['popfetch-test-cookie-key'] },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
