// An independent, OpenID-certified provider (panva/oidc-provider) dressed as the Azure AD v1
// authority, or as the Entra (Azure AD) v2.0 endpoint, for aadweb's interoperability tests
// (tests/test_oidc_provider.py).
//
//   node provider.mjs --port 0 --tenant <guid> --client-id <guid> --client-secret <s> \
//                     --redirect-uri <uri> [--redirect-uri <uri> ...] [--user <upn>] \
//                     [--dress v1|v2] [--path-tenant organizations|common] [--response-iss yes|no]
//
// --dress defaults to $AADWEB_PEER_DRESS, else v1. --path-tenant (v2 only) serves everything
// under /organizations (or /common) as Azure's multi-tenant endpoint does: its metadata names
// the issuer template https://login.microsoftonline.com/{tenantid}/v2.0, while the tokens carry
// the concrete issuer of --tenant. --response-iss (default: yes on v1, no on v2 as Entra does
// not send it) keeps or drops RFC 9207's `iss` in the authorization response.
// --bad-token-signature flips one character of the signature of every id_token the token
// endpoint answers (a relying party must refuse them).
//
// Prints one line "READY <base url>" on stdout once it listens on 127.0.0.1.
//
// The v2 dress (docs: "Microsoft identity platform and OpenID Connect protocol"):
// - issuer https://login.microsoftonline.com/{tid}/v2.0: the public cloud's v2 issuer, which is
//   what aadweb expects whatever AADWEB_AUTHORITY_HOST is (aadweb/protocol/endpoint.py: an
//   issuer is always https, even when the authority is served on loopback);
// - v2 paths: /{t}/oauth2/v2.0/authorize, /{t}/oauth2/v2.0/token, /{t}/discovery/v2.0/keys,
//   /{t}/oauth2/v2.0/logout, /{t}/v2.0/.well-known/openid-configuration (t: the tenant, or
//   organizations/common);
// - `scope=openid profile offline_access User.Read`: User.Read is Graph's scope (the Resource
//   Indicators default resource), offline_access brings a refresh token (the peer adds
//   prompt=consent for oidc-provider's OIDC Core 11 rule; Entra has no such rule);
// - id_token claims ver 2.0, tid, oid, preferred_username, name; no upn/unique_name.
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
    dress: { type: 'string', default: process.env.AADWEB_PEER_DRESS || 'v1' },
    'path-tenant': { type: 'string' },
    'response-iss': { type: 'string' },
    'bad-token-signature': { type: 'boolean', default: false },
  },
});

for (const name of ['tenant', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!args[name]) {
    process.stderr.write(`provider.mjs: --${name} is required\n`);
    process.exit(2);
  }
}

if (!['v1', 'v2'].includes(args.dress) || (args['path-tenant'] && args.dress !== 'v2')) {
  process.stderr.write('provider.mjs: --dress is v1 or v2; --path-tenant is for v2 only\n');
  process.exit(2);
}

const TENANT = args.tenant;
const RESOURCE = args.resource;
const V2 = args.dress === 'v2';
// Where the endpoints are served: the tenant, or organizations/common (v2 multi-tenant).
const PATH_TENANT = args['path-tenant'] || TENANT;
const V2_ISSUER_HOST = 'https://login.microsoftonline.com';
const ISSUER = V2 ? `${V2_ISSUER_HOST}/${TENANT}/v2.0` : `https://sts.windows.net/${TENANT}/`;
// The issuer the metadata names: on organizations/common Azure publishes the template.
const METADATA_ISSUER = PATH_TENANT === TENANT ? ISSUER : `${V2_ISSUER_HOST}/{tenantid}/v2.0`;
const RESPONSE_ISS = (args['response-iss'] || (V2 ? 'no' : 'yes')) === 'yes';
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
      if (V2) {
        return {
          sub,
          tid: TENANT,
          oid: user.oid,
          nbf: epoch() - 5,
          ver: '2.0',
          preferred_username: sub,
          name: user.name,
        };
      }
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

// v1 asks only `openid` (and a resource); v2 also profile and offline_access (a refresh token).
const OIDC_SCOPES = V2 ? 'openid profile offline_access' : 'openid';

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
  routes: V2 ? {
    authorization: `/${PATH_TENANT}/oauth2/v2.0/authorize`,
    token: `/${PATH_TENANT}/oauth2/v2.0/token`,
    jwks: `/${PATH_TENANT}/discovery/v2.0/keys`,
    end_session: `/${PATH_TENANT}/oauth2/v2.0/logout`,
    userinfo: `/${PATH_TENANT}/openid/v2.0/userinfo`,
  } : {
    authorization: `/${TENANT}/oauth2/authorize`,
    token: `/${TENANT}/oauth2/token`,
    jwks: `/${TENANT}/discovery/keys`,
    end_session: `/${TENANT}/oauth2/logout`,
    userinfo: `/${TENANT}/openid/userinfo`,
  },
  claims: V2 ? {
    openid: ['sub', 'tid', 'oid', 'nbf', 'ver'],
    profile: ['preferred_username', 'name'],
  } : {
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
    grant.addOIDCScope(OIDC_SCOPES);
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

provider.use(async (ctx, next) => {
  await next();
  // Multi-tenant metadata names the issuer template, not the tokens' concrete issuer.
  if (ctx.path === '/.well-known/openid-configuration' && ctx.body && typeof ctx.body === 'object') {
    ctx.body.issuer = METADATA_ISSUER;
  }
  if (args['bad-token-signature'] && ctx.path === configuration.routes.token
      && ctx.body && typeof ctx.body.id_token === 'string') {
    const [head, payload, sig] = ctx.body.id_token.split('.');
    const flipped = sig.slice(0, 10) + (sig[10] === 'B' ? 'C' : 'B') + sig.slice(11);
    ctx.body.id_token = `${head}.${payload}.${flipped}`;
  }
  // Entra does not send RFC 9207's iss in its authorization responses: drop it when asked.
  // oidc-provider sends it only when no id_token does, i.e. in a query-mode code response.
  if (!RESPONSE_ISS && ctx.path.startsWith(configuration.routes.authorization)) {
    const location = ctx.response.get('Location');
    if (location && /^https?:/.test(location) && [302, 303].includes(ctx.status)) {
      const url = new URL(location);
      if (url.searchParams.has('iss')) {
        url.searchParams.delete('iss');
        ctx.set('Location', url.href);
      }
    }
  }
});

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
      grant.addOIDCScope(OIDC_SCOPES);
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

const discovery = V2
  ? `/${PATH_TENANT}/v2.0/.well-known/openid-configuration`
  : `/${TENANT}/.well-known/openid-configuration`;
const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === discovery || req.url.startsWith(`${discovery}?`)) {
    req.url = `/.well-known/openid-configuration${req.url.slice(discovery.length)}`;
  }
  if (V2 && req.method === 'GET') {
    // Entra issues a refresh token whenever offline_access is asked; oidc-provider follows
    // OIDC Core 11 and keeps offline_access only with prompt=consent. So the v2 dress adds
    // that prompt (which its auto-consent answers) to an authorize request that asks
    // offline_access and names no prompt itself.
    const url = new URL(req.url, 'http://peer');
    if (url.pathname === configuration.routes.authorization && !url.searchParams.has('prompt')
        && (url.searchParams.get('scope') || '').split(' ').includes('offline_access')) {
      url.searchParams.set('prompt', 'consent');
      req.url = `${url.pathname}${url.search}`;
    }
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
