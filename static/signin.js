// Signing in with an OpenID Connect provider: the authorization code flow with PKCE (S256),
// run by the page itself. The server says where (GET /api/v2/auth/config); the tokens are kept
// for this tab only (sessionStorage), refreshed before the ID token expires, and the ID token
// is what every API request carries. Nothing here trusts a token for more than display: the
// server checks each one against the provider's keys.

const SESSION = "kiln-oidc";
const PENDING = "kiln-oidc-pending";

// Where the provider sends the browser back: the page's own root, always the same URL, so that
// it is the one registered with the provider.
export const redirectUri = () => `${location.origin}/`;

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

// The claims of a JSON Web Token, unverified (the server verifies; this is for display).
export function claimsOf(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION));
  } catch {
    return null;
  }
}

function keep(tokens, previous) {
  const claims = claimsOf(tokens.id_token);
  if (!claims || typeof claims.exp !== "number") throw new Error("The provider answered without a usable ID token.");
  const kept = {
    id_token: tokens.id_token,
    refresh_token: tokens.refresh_token || previous?.refresh_token || null,
    exp: claims.exp,
    iat: typeof claims.iat === "number" ? claims.iat : Math.floor(Date.now() / 1000),
    claims,
  };
  sessionStorage.setItem(SESSION, JSON.stringify(kept));
  return kept;
}

// The ID token to send, if signed in.
export function idToken() {
  return session()?.id_token || null;
}

// Who is signed in, as the provider names them.
export function who() {
  const c = session()?.claims;
  return c ? c.email || c.preferred_username || c["cognito:username"] || c.name || c.sub : null;
}

// Sends the browser to the provider. `returnTo` (a #/… link) is where the page goes after.
export async function beginSignIn(config, returnTo) {
  const verifier = random(48);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const pending = { verifier, state: random(), nonce: random(), returnTo: returnTo || "" };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(config.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  })) url.searchParams.set(k, v);
  location.assign(url.toString());
}

async function tokenRequest(config, fields) {
  const res = await fetch(config.token_endpoint, {
    method: "POST",
    headers: { accept: "application/json" },
    body: new URLSearchParams({ client_id: config.client_id, ...fields }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`The provider refused (${body.error || `HTTP ${res.status}`}).`);
  return body;
}

// Finishes a sign-in the provider sent the browser back from, if this page load is one.
// Answers where to go next ("" for the project list), or null when this is no callback.
export async function completeSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  // The code is single-use and the URL should not be bookmarked with it.
  history.replaceState(null, "", redirectUri());
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING));
  } catch { /* handled below */ }
  sessionStorage.removeItem(PENDING);
  if (params.has("error")) {
    throw new Error(`Signing in did not finish: ${params.get("error_description") || params.get("error")}.`);
  }
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("That sign-in was not started from this tab; sign in again.");
  }
  const tokens = await tokenRequest(config, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  const claims = claimsOf(tokens.id_token || "");
  const audience = Array.isArray(claims?.aud) ? claims.aud : [claims?.aud];
  if (!claims || claims.nonce !== pending.nonce || claims.iss !== config.issuer || !audience.includes(config.client_id)) {
    throw new Error("The provider's answer was not for this sign-in; sign in again.");
  }
  keep(tokens, null);
  return pending.returnTo;
}

// Trades the refresh token for new tokens. Answers whether that worked.
export async function refresh(config) {
  const current = session();
  if (!current?.refresh_token) return false;
  try {
    keep(await tokenRequest(config, { grant_type: "refresh_token", refresh_token: current.refresh_token }), current);
    return true;
  } catch {
    return false;
  }
}

const timer = { id: null };

// Keeps the session fresh: refreshes a little before the ID token expires (a minute, or a
// quarter of its lifetime when that is shorter), and calls `ended` when it cannot.
export function keepFresh(config, ended) {
  clearTimeout(timer.id);
  const current = session();
  if (!current) return;
  const lifetime = Math.max(1, current.exp - current.iat) * 1000;
  const margin = Math.min(60_000, lifetime / 4);
  const wait = Math.max(0, current.exp * 1000 - Date.now() - margin);
  timer.id = setTimeout(async () => {
    if (await refresh(config)) keepFresh(config, ended);
    else ended("Your session has ended; sign in again.");
  }, wait);
}

// Forgets this tab's session, and signs out at the provider too when it has a place for that
// (it then sends the browser back to the page).
export function signOut(config) {
  const token = idToken();
  clearTimeout(timer.id);
  sessionStorage.removeItem(SESSION);
  if (!config?.end_session_endpoint) return false;
  const url = new URL(config.end_session_endpoint);
  url.searchParams.set("client_id", config.client_id);
  // OpenID Connect RP-initiated logout names it post_logout_redirect_uri; Cognito, logout_uri.
  url.searchParams.set("post_logout_redirect_uri", redirectUri());
  url.searchParams.set("logout_uri", redirectUri());
  if (token) url.searchParams.set("id_token_hint", token);
  location.assign(url.toString());
  return true;
}
