// An independent, OpenID-certified provider (panva/oidc-provider) dressed as the Azure AD v1
// authority, for aadweb's interoperability tests (tests/test_oidc_provider.py).
//
//   node provider.mjs --port 0 --tenant <guid> --client-id <guid> --client-secret <s> \
//                     --redirect-uri <uri> [--redirect-uri <uri> ...] [--user <upn>]
//
// Prints one line "READY <base url>" on stdout once it listens on 127.0.0.1.
//
// What makes it look like Azure AD v1 (docs: "Azure AD v1 protocols", PROTOCOL.md):
// - issuer https://sts.windows.net/{tid}/ (the issuer string need not be where it is served);
// - v1 paths: /{tid}/oauth2/authorize, /{tid}/oauth2/token, /{tid}/discovery/keys,
//   /{tid}/oauth2/logout via `routes`, and /{tid}/.well-known/openid-configuration by a path
//   rewrite in front of the provider;
// - a confidential web client (client_secret_post), response types `code id_token` and `code`,
//   form_post, PKCE (S256), the v1 `resource` parameter through Resource Indicators (RFC 8707);
// - id_token claims tid, oid, nbf, name, upn next to the standard ones, RS256 with a kid.
// Interactions: a custom interactions.url whose handler signs the configured user in at once
// (no page), and a loadExistingGrant that consents for the first-party client, so a cookie-jar
// client completes the sign-in without a browser.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    tenant: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    user: { type: 'string', default: 'megan.bowen@contoso.example' },
    resource: { type: 'string', default: 'https://graph.microsoft.com' },
  },
});

for (const name of ['tenant', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!args[name]) {
    process.stderr.write(`provider.mjs: --${name} is required\n`);
    process.exit(2);
  }
}

const TENANT = args.tenant;
const RESOURCE = args.resource;
const ISSUER = `https://sts.windows.net/${TENANT}/`;
const epoch = () => Math.floor(Date.now() / 1000);

// One user, identified the Azure way: a stable oid within the tenant.
const USERS = new Map([[args.user, {
  oid: crypto.createHash('sha256').update(args.user).digest('hex').replace(
    /^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*$/, '$1-$2-4$3-8$4-$5',
  ),
  name: 'Megan Bowen',
  given_name: 'Megan',
  family_name: 'Bowen',
}]]);

function account(sub) {
  const user = USERS.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        tid: TENANT,
        oid: user.oid,
        // Azure AD v1 id_tokens always carry nbf; aadweb requires it (DESIGN.md).
        nbf: epoch() - 5,
        ver: '1.0',
        upn: sub,
        unique_name: sub,
        name: user.name,
        given_name: user.given_name,
        family_name: user.family_name,
      };
    },
  };
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'oidc-provider-k1', use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: args['redirect-uri'],
    response_types: ['code id_token', 'code'],
    grant_types: ['authorization_code', 'implicit', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
    application_type: 'web',
  }],
  responseTypes: ['code id_token', 'code'],
  jwks: { keys: [signingKey] },
  routes: {
    authorization: `/${TENANT}/oauth2/authorize`,
    token: `/${TENANT}/oauth2/token`,
    jwks: `/${TENANT}/discovery/keys`,
    end_session: `/${TENANT}/oauth2/logout`,
    userinfo: `/${TENANT}/openid/userinfo`,
  },
  claims: {
    openid: ['sub', 'tid', 'oid', 'nbf', 'ver', 'upn', 'unique_name', 'name', 'given_name', 'family_name'],
  },
  // Azure AD puts the user's claims in the id_token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'User.Read', audience: RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'opaque' };
      },
    },
  },
  findAccount: (ctx, sub) => account(sub),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // First-party client: consent is implied (what an admin-consented Azure app looks like).
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(RESOURCE, 'User.Read');
    await grant.save();
    session.grantIdFor(client.clientId, grant.jti);
    return grant;
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  ttl: {
    AccessToken: 3600, AuthorizationCode: 600, IdToken: 3600, Grant: 3600, Interaction: 600, Session: 3600,
    RefreshToken: 86400,
  },
  renderError(ctx, out) {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);

// The documented recipe for a web client that uses the implicit grant (here: the hybrid
// `code id_token`) with a plain-http loopback redirect URI, which only a test needs.
const { invalidate } = provider.Client.Schema.prototype;
provider.Client.Schema.prototype.invalidate = function allowLoopback(message, code) {
  if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') return;
  invalidate.call(this, message, code);
};

async function interaction(req, res) {
  // Auto-login: the configured user signs in at once; no page is ever shown.
  try {
    const details = await provider.interactionDetails(req, res);
    const hint = details.params.login_hint;
    const accountId = hint && USERS.has(hint) ? hint : args.user;
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope('openid');
      grant.addResourceScope(RESOURCE, 'User.Read');
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  } catch (err) {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`interaction failed: ${err.message}`);
  }
}

const discovery = `/${TENANT}/.well-known/openid-configuration`;
const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === discovery || req.url.startsWith(`${discovery}?`)) {
    req.url = `/.well-known/openid-configuration${req.url.slice(discovery.length)}`;
  }
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res);
    return;
  }
  callback(req, res);
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 500).unref();
  });
}
