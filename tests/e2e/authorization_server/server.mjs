// A real OAuth 2.0 authorization server for Tokendesk's end-to-end tests: oidc-provider 9.x
// configured for tests, plus a headless login/consent interaction and a test-only admin API
// (statistics, request log, programmable faults, runtime clients and settings).
//
//   node tests/e2e/authorization_server/server.mjs [--config FILE] [--port N] [--exit-on-stdin-close]
//
// The configuration is JSON, read from --config FILE or from the environment variable
// TOKENDESK_TEST_AS_CONFIG (inline JSON). Once listening, the server prints exactly one JSON
// line on stdout: {"event": "ready", "issuer": ..., "port": ...}. Everything else it says
// goes to stderr. It exits on SIGTERM/SIGINT, and with --exit-on-stdin-close also when its
// stdin closes (the pytest fixture uses that so the server never outlives the test run that
// started it, even if pytest is killed). See README.md next to this file.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { Readable } from 'node:stream';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

// --- configuration ---------------------------------------------------------------------------

const DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  clients: [],
  access_token_ttl_s: 60,
  refresh_token_ttl_s: 14 * 24 * 3600,
  authorization_code_ttl_s: 60,
  auto_approve_user: null,
  always_login: true,
  refresh_token_policy: 'offline_access', // or 'always'
  rotate_refresh_token: true,
  access_token_format: 'opaque', // or 'jwt'
  resource: 'https://api.tokendesk.test',
  api_scopes: ['api:read', 'api:write'],
  log_requests: true,
};

const SETTABLE = new Set([
  'access_token_ttl_s', 'refresh_token_ttl_s', 'authorization_code_ttl_s',
  'auto_approve_user', 'always_login', 'refresh_token_policy', 'rotate_refresh_token',
  'access_token_format', 'log_requests',
]);

function readConfig(argv, env) {
  let config = {};
  const at = argv.indexOf('--config');
  if (at !== -1) {
    config = JSON.parse(fs.readFileSync(argv[at + 1], 'utf8'));
  } else if (env.TOKENDESK_TEST_AS_CONFIG) {
    config = JSON.parse(env.TOKENDESK_TEST_AS_CONFIG);
  }
  const portAt = argv.indexOf('--port');
  if (portAt !== -1) config.port = Number(argv[portAt + 1]);
  else if (env.TOKENDESK_TEST_AS_PORT) config.port = Number(env.TOKENDESK_TEST_AS_PORT);
  const unknown = Object.keys(config).filter((key) => !(key in DEFAULTS));
  if (unknown.length) throw new Error(`unknown configuration keys: ${unknown.join(', ')}`);
  const merged = { ...DEFAULTS, ...config };
  validateSettings(merged);
  return merged;
}

function validateSettings(settings) {
  for (const key of ['access_token_ttl_s', 'refresh_token_ttl_s', 'authorization_code_ttl_s']) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) {
      throw new Error(`${key} must be a positive integer (seconds)`);
    }
  }
  if (!['offline_access', 'always'].includes(settings.refresh_token_policy)) {
    throw new Error('refresh_token_policy must be "offline_access" or "always"');
  }
  if (!['opaque', 'jwt'].includes(settings.access_token_format)) {
    throw new Error('access_token_format must be "opaque" or "jwt"');
  }
  if (settings.auto_approve_user !== null && (typeof settings.auto_approve_user !== 'string' || !settings.auto_approve_user)) {
    throw new Error('auto_approve_user must be a non-empty string or null');
  }
}

const log = (...args) => process.stderr.write(`[authorization-server] ${args.join(' ')}\n`);

// --- storage: a Map that keeps everything until it expires -----------------------------------
// (oidc-provider's bundled memory adapter is an LRU that evicts old entries under load, which
// would make long tests lose refresh tokens for reasons no real server has.)

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

const store = new Map(); // "Model:id" -> { payload, expiresAt (ms epoch or Infinity) }
const grantMembers = new Map(); // grantId -> Set("Model:id")
const sessionUids = new Map(); // uid -> session id
const userCodes = new Map(); // userCode -> id

function storeGet(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload: structuredClone(payload), expiresAt });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (this.model === 'Session' && payload.uid) sessionUids.set(payload.uid, id);
    if (payload.userCode) userCodes.set(payload.userCode, id);
  }

  async find(id) {
    const entry = storeGet(this.key(id));
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid) {
    const id = sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = storeGet(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const members = grantMembers.get(grantId);
    if (!members) return;
    for (const key of members) {
      if (key.startsWith(`${this.model}:`)) {
        store.delete(key);
        members.delete(key);
      }
    }
    if (members.size === 0) grantMembers.delete(grantId);
  }
}

setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  for (const [grantId, members] of grantMembers) {
    for (const key of members) if (!store.has(key)) members.delete(key);
    if (members.size === 0) grantMembers.delete(grantId);
  }
}, 30_000).unref();

// --- clients ---------------------------------------------------------------------------------

const CLIENT_EXTRAS = new Set(['require_pkce']);
const pkceRequiredFor = new Map(); // client_id -> boolean

function clientMetadata(spec) {
  if (!spec || typeof spec.client_id !== 'string' || !spec.client_id) {
    throw new Error('a client needs a client_id');
  }
  const metadata = {};
  for (const [key, value] of Object.entries(spec)) {
    if (!CLIENT_EXTRAS.has(key)) metadata[key] = value;
  }
  metadata.grant_types ??= ['authorization_code', 'refresh_token'];
  metadata.response_types ??= metadata.grant_types.includes('authorization_code') ? ['code'] : [];
  metadata.redirect_uris ??= [];
  metadata.token_endpoint_auth_method ??= 'client_secret_basic';
  return metadata;
}

async function registerClient(provider, spec) {
  const metadata = clientMetadata(spec);
  await provider.Client.validate(metadata); // throws InvalidClientMetadata with the reason
  await new MapAdapter('Client').upsert(metadata.client_id, metadata);
  pkceRequiredFor.set(metadata.client_id, spec.require_pkce === true);
  return metadata;
}

// --- instrumentation: statistics, request log, faults -----------------------------------------

const INSTRUMENTED = new Map([
  ['/token', 'token'],
  ['/token/revocation', 'revocation'],
  ['/token/introspection', 'introspection'],
  ['/jwks', 'jwks'], // read by relying parties verifying its JWTs (workload identity)
]);

function emptyStats() {
  return {
    // in_flight: requests being handled now (from arrival to the answer), peak_in_flight: the
    // most at once -- what a client's concurrency cap looks like from the server's side.
    token: { total: 0, by_grant_type: {}, by_client_auth_method: {}, by_status: {}, in_flight: 0, peak_in_flight: 0 },
    revocation: { total: 0, by_status: {}, in_flight: 0, peak_in_flight: 0 },
    introspection: { total: 0, by_status: {}, in_flight: 0, peak_in_flight: 0 },
    jwks: { total: 0, by_status: {}, in_flight: 0, peak_in_flight: 0 },
    authorization: { total: 0 },
    faults_applied: 0,
  };
}

let stats = emptyStats();
let requestLog = [];
let faults = [];

const bump = (counts, key) => { counts[key] = (counts[key] ?? 0) + 1; };

const FAULT_KEYS = new Set([
  'endpoint', 'grant_type', 'client_id', 'count', 'delay_ms',
  'status', 'body', 'content_type', 'headers', 'retry_after', 'error', 'error_description',
  'reset', 'drop_response', 'truncate_bytes', 'drip_interval_ms', 'drip_chunk_bytes',
  'oversized_bytes', 'response_patch', 'hold_response_ms',
]);

function validateFault(fault) {
  if (!fault || typeof fault !== 'object' || Array.isArray(fault)) throw new Error('a fault is a JSON object');
  const unknown = Object.keys(fault).filter((key) => !FAULT_KEYS.has(key));
  if (unknown.length) throw new Error(`unknown fault keys: ${unknown.join(', ')}`);
  const endpoint = fault.endpoint ?? 'token';
  if (![...INSTRUMENTED.values()].includes(endpoint)) throw new Error(`unknown endpoint ${endpoint}`);
  const count = fault.count === undefined ? 1 : fault.count;
  if (count !== null && (!Number.isInteger(count) || count < 1)) {
    throw new Error('count must be a positive integer, or null for "until cleared"');
  }
  const canned = ['status', 'body', 'error'].some((key) => fault[key] !== undefined);
  const modes = [
    canned, fault.reset === true, fault.drop_response === true,
    fault.truncate_bytes !== undefined, fault.oversized_bytes !== undefined,
    fault.response_patch !== undefined, fault.hold_response_ms !== undefined,
  ].filter(Boolean).length;
  if (modes > 1) throw new Error('choose one of: canned response (status/body/error), reset, drop_response, truncate_bytes, oversized_bytes, response_patch, hold_response_ms');
  if (fault.hold_response_ms !== undefined && (!Number.isInteger(fault.hold_response_ms) || fault.hold_response_ms < 1 || fault.hold_response_ms > 120000)) {
    throw new Error('hold_response_ms is a whole number of milliseconds from 1 to 120000');
  }
  if (fault.drip_interval_ms !== undefined && (fault.reset || fault.drop_response || fault.oversized_bytes !== undefined)) {
    throw new Error('drip_interval_ms combines with a real, canned, patched or truncated response only');
  }
  return { ...fault, endpoint, count, applied: 0 };
}

function takeFault(endpoint, record) {
  const index = faults.findIndex((fault) => fault.endpoint === endpoint
    && (fault.grant_type === undefined || fault.grant_type === record.grant_type)
    && (fault.client_id === undefined || fault.client_id === record.client_id));
  if (index === -1) return undefined;
  const fault = faults[index];
  fault.applied += 1;
  if (fault.count !== null && fault.applied >= fault.count) faults.splice(index, 1);
  stats.faults_applied += 1;
  return fault;
}

const fingerprint = (value) => (value ? crypto.hash('sha256', String(value), 'hex').slice(0, 16) : null);

function describeRequest(ctx, endpoint, params) {
  let clientId = params.client_id ?? null;
  const methods = [];
  const authorization = ctx.get('authorization');
  if (/^basic /i.test(authorization)) {
    methods.push('client_secret_basic');
    try {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, ' '));
    } catch { /* malformed: recorded as sent */ }
  }
  if (params.client_secret !== undefined) methods.push('client_secret_post');
  if (params.client_assertion !== undefined) methods.push('client_assertion');
  return {
    endpoint,
    at: new Date().toISOString(),
    grant_type: params.grant_type ?? null,
    client_id: clientId,
    client_auth_method: methods.length === 0 ? 'none' : methods.join('+'),
    scope: params.scope ?? null,
    resource: params.resource ?? null,
    redirect_uri: params.redirect_uri ?? null,
    code_verifier_sent: params.code_verifier !== undefined,
    code_sha256: fingerprint(params.code),
    refresh_token_sha256: fingerprint(params.refresh_token),
    token_sha256: fingerprint(params.token),
    token_type_hint: params.token_type_hint ?? null,
    // What the answer carried (also when the fault dropped it): which tokens belong together.
    issued_access_token_sha256: null,
    issued_refresh_token_sha256: null,
    status: null,
    error: null,
    fault: null,
    // hold_response_ms: 'holding' while the processed answer waits, then 'client_gone' (the
    // client's connection closed first: the answer is never sent) or 'released' (sent late).
    held: null,
  };
}

// Resolves true when the client's connection closes, false after ``ms``, whichever is first.
function clientGoneWithin(socket, ms) {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.off('close', onClose); resolve(false); }, ms);
    function onClose() { clearTimeout(timer); resolve(true); }
    socket.once('close', onClose);
  });
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function dripStream(buffer, intervalMs, chunkBytes) {
  let offset = 0;
  let timer;
  return new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (offset >= buffer.length) {
          this.push(null);
          return;
        }
        this.push(buffer.subarray(offset, offset + chunkBytes));
        offset += chunkBytes;
      }, intervalMs);
    },
    destroy(err, callback) {
      clearTimeout(timer);
      callback(err);
    },
  });
}

function oversizedStream(totalBytes) {
  const head = Buffer.from('{"access_token":"');
  const tail = Buffer.from('","token_type":"Bearer","expires_in":3600}');
  const filler = Buffer.alloc(64 * 1024, 'a');
  let remaining = Math.max(totalBytes - head.length - tail.length, 0);
  let stage = 0;
  return new Readable({
    read() {
      if (stage === 0) { stage = 1; this.push(head); return; }
      if (remaining > 0) {
        const size = Math.min(remaining, filler.length);
        remaining -= size;
        this.push(filler.subarray(0, size));
        return;
      }
      if (stage === 1) { stage = 2; this.push(tail); return; }
      this.push(null);
    },
  });
}

function cannedResponse(ctx, fault) {
  const headers = { ...(fault.headers ?? {}) };
  if (fault.retry_after !== undefined) headers['Retry-After'] = String(fault.retry_after);
  let { status } = fault;
  let { body } = fault;
  if (fault.error !== undefined) {
    body = { error: fault.error, ...(fault.error_description ? { error_description: fault.error_description } : {}) };
    status ??= fault.error === 'invalid_client' ? 401 : 400;
    if (status === 401 && !Object.keys(headers).some((h) => h.toLowerCase() === 'www-authenticate')) {
      headers['WWW-Authenticate'] = 'Basic realm="tokendesk-test"';
    }
  }
  status ??= body === undefined ? 503 : 200;
  ctx.status = status;
  for (const [name, value] of Object.entries(headers)) ctx.set(name, String(value));
  if (body === undefined) {
    ctx.body = '';
  } else if (typeof body === 'string') {
    ctx.type = fault.content_type ?? 'text/plain';
    ctx.body = body;
  } else {
    ctx.type = fault.content_type ?? 'application/json';
    ctx.body = JSON.stringify(body);
  }
}

function finalBodyBuffer(ctx) {
  if (Buffer.isBuffer(ctx.body)) return ctx.body;
  if (typeof ctx.body === 'string') return Buffer.from(ctx.body);
  if (ctx.body === null || ctx.body === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(ctx.body));
}

async function instrumented(ctx, next, endpoint, settings) {
  const counts = stats[endpoint]; // a reset meanwhile replaces stats: count down where counted up
  counts.in_flight += 1;
  counts.peak_in_flight = Math.max(counts.peak_in_flight, counts.in_flight);
  try {
    await instrumentedRequest(ctx, next, endpoint, settings);
  } finally {
    counts.in_flight -= 1;
  }
}

async function instrumentedRequest(ctx, next, endpoint, settings) {
  // Read the form body here (so a faulted request is recorded too); oidc-provider then uses
  // the already-read body (it warns once on stderr that an upstream parser was detected).
  let params = {};
  if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
    const raw = await readRaw(ctx.req, 56 * 1024);
    ctx.req.body = raw;
    params = Object.fromEntries(new URLSearchParams(raw));
  }
  const record = describeRequest(ctx, endpoint, params);
  requestLog.push(record);
  const counts = stats[endpoint];
  counts.total += 1;
  if (endpoint === 'token') {
    bump(counts.by_grant_type, record.grant_type ?? '(none)');
    bump(counts.by_client_auth_method, record.client_auth_method);
  }

  const fault = takeFault(endpoint, record);
  try {
    if (fault) {
      record.fault = Object.fromEntries(Object.entries(fault).filter(([key]) => key !== 'applied'));
      if (fault.delay_ms) await sleep(fault.delay_ms);
      if (fault.reset) {
        ctx.respond = false;
        ctx.req.socket.destroy();
        record.status = 'reset';
        return;
      }
      if (['status', 'body', 'error'].some((key) => fault[key] !== undefined)) {
        cannedResponse(ctx, fault);
      } else if (fault.oversized_bytes !== undefined) {
        ctx.status = 200;
        ctx.type = 'application/json';
        ctx.body = oversizedStream(fault.oversized_bytes);
      } else {
        await next();
        if (fault.drop_response) {
          // The request was processed (tokens issued, a refresh token rotated...) but the
          // client never hears about it: the connection is cut instead of answered.
          record.status = 'dropped';
          record.error = ctx.body?.error ?? null;
          ctx.respond = false;
          ctx.req.socket.destroy();
          return;
        }
        if (fault.hold_response_ms !== undefined) {
          // Processed (a refresh token rotated...), and the answer held: a test can kill the
          // client now, in the window between the provider's answer and its storage.
          record.held = 'holding';
          const gone = await clientGoneWithin(ctx.req.socket, fault.hold_response_ms);
          record.held = gone ? 'client_gone' : 'released';
          if (gone) ctx.respond = false;
        }
        if (fault.response_patch && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
          const patched = { ...ctx.body };
          for (const [key, value] of Object.entries(fault.response_patch)) {
            if (value === null) delete patched[key];
            else patched[key] = value;
          }
          ctx.body = patched;
        }
        if (fault.truncate_bytes !== undefined) {
          const buffer = finalBodyBuffer(ctx);
          ctx.type ||= 'application/json';
          ctx.body = buffer.subarray(0, fault.truncate_bytes);
        }
      }
      if (fault.drip_interval_ms !== undefined) {
        const buffer = finalBodyBuffer(ctx);
        const type = ctx.type || 'application/json';
        ctx.body = dripStream(buffer, fault.drip_interval_ms, fault.drip_chunk_bytes ?? 1);
        ctx.type = type;
        ctx.length = buffer.length;
      }
    } else {
      await next();
    }
  } finally {
    const answer = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)
      && !(ctx.body instanceof Readable) ? ctx.body : null;
    if (record.status === null) {
      record.status = ctx.status;
      if (answer) record.error = answer.error ?? null;
    }
    if (answer && endpoint === 'token') {
      record.issued_access_token_sha256 = fingerprint(answer.access_token);
      record.issued_refresh_token_sha256 = fingerprint(answer.refresh_token);
    }
    if (typeof record.status === 'number') {
      bump(counts.by_status, String(record.status));
    }
    if (settings.log_requests) {
      log(`${endpoint} grant_type=${record.grant_type} client_id=${record.client_id} auth=${record.client_auth_method} -> ${record.status}${record.error ? ` ${record.error}` : ''}${fault ? ' (fault)' : ''}`);
    }
  }
}

// --- small HTTP helpers ----------------------------------------------------------------------

async function readRaw(req, limit = 1024 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += chunk.length;
    if (size > limit) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(ctx) {
  return Object.fromEntries(new URLSearchParams(await readRaw(ctx.req)));
}

async function readJson(ctx) {
  const raw = await readRaw(ctx.req);
  return raw.trim() ? JSON.parse(raw) : {};
}

const escapeHtml = (value) => String(value)
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

// --- the interaction (login, then consent) ---------------------------------------------------

function loginPage(uid, details, error) {
  return page('Sign in to the test authorization server', `
<p>Client <code id="client-id">${escapeHtml(details.params.client_id)}</code> asks you to sign in.</p>
${error ? `<p id="login-error" role="alert">${escapeHtml(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label>User <input id="login" name="login" autocomplete="username" value="${escapeHtml(details.params.login_hint ?? '')}" required></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
  <button id="sign-in" type="submit">Sign in</button>
</form>
<form id="deny-form" method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button id="cancel" type="submit">Cancel</button>
</form>`);
}

function consentPage(uid, details) {
  const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
  return page('Authorize access', `
<p>User <code id="account">${escapeHtml(details.session?.accountId ?? '')}</code>,
client <code id="client-id">${escapeHtml(details.params.client_id)}</code> asks for:</p>
<ul id="scopes">${scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('')}</ul>
<form id="consent-form" method="post" action="/interaction/${escapeHtml(uid)}/confirm">
  <button id="approve" type="submit">Allow</button>
</form>
<form id="deny-form" method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button id="deny" type="submit">Deny</button>
</form>`);
}

async function grantEverything(provider, details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

async function finish(ctx, provider, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function interaction(ctx, provider, settings) {
  const match = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
  if (!match) return false;
  const [, uid, action] = match;
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Interaction expired', `<p id="error">${escapeHtml(err.message)}</p>`);
    return true;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Interaction mismatch', '<p id="error">this interaction is not the current one of this browser</p>');
    return true;
  }
  const prompt = details.prompt.name;

  if (ctx.method === 'GET' && !action) {
    if (settings.auto_approve_user) {
      if (prompt === 'login') {
        await finish(ctx, provider, { login: { accountId: settings.auto_approve_user } });
      } else {
        await finish(ctx, provider, { consent: { grantId: await grantEverything(provider, details) } });
      }
      return true;
    }
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = prompt === 'login' ? loginPage(uid, details) : consentPage(uid, details);
    return true;
  }

  if (ctx.method !== 'POST' || !action) {
    ctx.status = 405;
    return true;
  }
  const form = await readForm(ctx);
  if (action === 'abort') {
    await finish(ctx, provider, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  } else if (action === 'login') {
    if (prompt !== 'login') {
      ctx.status = 400;
      ctx.body = `expected the ${prompt} prompt`;
      return true;
    }
    const user = (form.login ?? '').trim();
    if (!user) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = loginPage(uid, details, 'enter a user name');
      return true;
    }
    await finish(ctx, provider, { login: { accountId: user } });
  } else {
    if (prompt !== 'consent') {
      ctx.status = 400;
      ctx.body = `expected the ${prompt} prompt`;
      return true;
    }
    await finish(ctx, provider, { consent: { grantId: await grantEverything(provider, details) } });
  }
  return true;
}

// --- the admin API (/__test__/...) ------------------------------------------------------------

async function admin(ctx, provider, settings) {
  if (!ctx.path.startsWith('/__test__/')) return false;
  const route = `${ctx.method} ${ctx.path}`;
  const json = (status, body) => { ctx.status = status; ctx.type = 'application/json'; ctx.body = JSON.stringify(body); };
  try {
    if (route === 'GET /__test__/stats') {
      json(200, { ...stats, faults_pending: faults.map(({ applied, ...fault }) => ({ ...fault, applied })) });
    } else if (route === 'GET /__test__/requests') {
      const endpoint = ctx.query.endpoint;
      json(200, endpoint ? requestLog.filter((r) => r.endpoint === endpoint) : requestLog);
    } else if (route === 'POST /__test__/reset') {
      stats = emptyStats();
      requestLog = [];
      faults = [];
      json(200, { ok: true });
    } else if (route === 'POST /__test__/faults') {
      const body = await readJson(ctx);
      const added = (Array.isArray(body) ? body : [body]).map(validateFault);
      faults.push(...added);
      json(200, { pending: faults.length });
    } else if (route === 'DELETE /__test__/faults') {
      faults = [];
      json(200, { pending: 0 });
    } else if (route === 'GET /__test__/settings') {
      json(200, Object.fromEntries([...SETTABLE].map((key) => [key, settings[key]])));
    } else if (route === 'PATCH /__test__/settings') {
      const changes = await readJson(ctx);
      const unknown = Object.keys(changes).filter((key) => !SETTABLE.has(key));
      if (unknown.length) throw new Error(`not settable: ${unknown.join(', ')}`);
      const next = { ...settings, ...changes };
      validateSettings(next);
      Object.assign(settings, changes);
      json(200, Object.fromEntries([...SETTABLE].map((key) => [key, settings[key]])));
    } else if (route === 'GET /__test__/clients') {
      const clients = [...store.entries()]
        .filter(([key]) => key.startsWith('Client:'))
        .map(([, entry]) => ({ ...entry.payload, require_pkce: pkceRequiredFor.get(entry.payload.client_id) }));
      json(200, clients);
    } else if (ctx.method === 'PUT' && ctx.path.startsWith('/__test__/clients/')) {
      const clientId = decodeURIComponent(ctx.path.slice('/__test__/clients/'.length));
      const spec = { ...(await readJson(ctx)), client_id: clientId };
      json(200, await registerClient(provider, spec));
    } else if (ctx.method === 'DELETE' && ctx.path.startsWith('/__test__/clients/')) {
      const clientId = decodeURIComponent(ctx.path.slice('/__test__/clients/'.length));
      await new MapAdapter('Client').destroy(clientId);
      pkceRequiredFor.delete(clientId);
      json(200, { ok: true });
    } else {
      json(404, { error: 'not_found', error_description: `no admin route ${route}` });
    }
  } catch (err) {
    json(400, { error: 'bad_request', error_description: err.error_description ?? err.message });
  }
  return true;
}

// --- the provider ----------------------------------------------------------------------------

function signingKeys() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  // A fresh key id per start, as an issuer that rotates its keys gives its new key a new
  // `kid`: a restarted server plays a workload platform after a key rotation.
  const kid = `test-rs256-${crypto.randomBytes(6).toString('hex')}`;
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid }] };
}

function interactionPolicyFor(settings) {
  const policy = interactionPolicy.base();
  // Every authorization request signs in again (unless the login was just completed), so a
  // test chooses the user each time even when the browser still has a session.
  policy.get('login').checks.add(new interactionPolicy.Check(
    'tokendesk_test_always_login',
    'the test authorization server asks for a login on every authorization request',
    (ctx) => (settings.always_login && !ctx.oidc.result?.login
      ? interactionPolicy.Check.REQUEST_PROMPT
      : interactionPolicy.Check.NO_NEED_TO_PROMPT),
  ));
  return policy;
}

function createProvider(issuer, settings) {
  const resourceInfo = () => ({
    scope: settings.api_scopes.join(' '),
    audience: settings.resource,
    accessTokenTTL: settings.access_token_ttl_s,
    accessTokenFormat: settings.access_token_format,
  });

  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: [],
    jwks: signingKeys(),
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, name: sub, email: `${sub}@example.test`, email_verified: true }),
    }),
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    // The API scopes are listed here too, so that a client's registered `scope` may restrict
    // them (oidc-provider only enforces a client's scope over these "static" scopes).
    scopes: ['openid', 'offline_access', 'profile', 'email', ...settings.api_scopes],
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => pkceRequiredFor.get(client.clientId) === true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? settings.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== settings.resource) throw new errors.InvalidTarget();
          return resourceInfo();
        },
      },
    },
    interactions: {
      policy: interactionPolicyFor(settings),
      url: async (_ctx, interactionRecord) => `/interaction/${interactionRecord.uid}`,
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && (settings.refresh_token_policy === 'always' || code.scopes.has('offline_access')),
    // Tokens never die with the browser session at this server: a second login in the same
    // browser must not silently invalidate the tokens another test step still holds.
    expiresWithSession: async () => false,
    rotateRefreshToken: () => settings.rotate_refresh_token,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.access_token_ttl_s,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.access_token_ttl_s,
      AuthorizationCode: () => settings.authorization_code_ttl_s,
      RefreshToken: () => settings.refresh_token_ttl_s,
      IdToken: () => 3600,
      Interaction: () => 3600,
      Session: () => 24 * 3600,
      Grant: () => 14 * 24 * 3600,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Authorization error', `
<p id="error" data-error="${escapeHtml(out.error)}">${escapeHtml(out.error)}</p>
<p id="error-description">${escapeHtml(out.error_description ?? '')}</p>`);
    },
  });
  provider.on('server_error', (_ctx, err) => log('server_error', err?.stack ?? err));
  return provider;
}

// --- wiring ----------------------------------------------------------------------------------

async function main() {
  const settings = readConfig(process.argv, process.env);
  let handler = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const { port } = server.address();
  const issuer = `http://${settings.host}:${port}`;

  const provider = createProvider(issuer, settings);
  for (const spec of settings.clients) await registerClient(provider, spec);

  provider.use(async (ctx, next) => {
    if (await admin(ctx, provider, settings)) return;
    if (await interaction(ctx, provider, settings)) return;
    if (ctx.path === '/.well-known/oauth-authorization-server') {
      // RFC 8414 metadata: the same document as OpenID discovery.
      ctx.path = '/.well-known/openid-configuration';
    }
    const endpoint = INSTRUMENTED.get(ctx.path);
    if (endpoint) {
      await instrumented(ctx, next, endpoint, settings);
      return;
    }
    if (ctx.path === '/auth' || ctx.path.startsWith('/auth/')) stats.authorization.total += 1;
    await next();
    if (settings.log_requests && ctx.path !== '/.well-known/openid-configuration') {
      log(`${ctx.method} ${ctx.path} -> ${ctx.status}`);
    }
  });

  handler = provider.callback();
  server.keepAliveTimeout = 5_000;

  const shutdown = () => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (process.argv.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ event: 'ready', issuer, port })}\n`);
}

main().catch((err) => {
  log('failed to start:', err?.stack ?? err);
  process.exit(1);
});
