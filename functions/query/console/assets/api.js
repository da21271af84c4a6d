// The API, called with the signed-in credential. The credential lives in sessionStorage only
// (gone when the tab closes) and travels in a header, never in a URL.

const STORAGE_KEY = "eventlog.console.session";

// This module is served at <stage>/console/assets/<version>/api.js: the API is three levels up,
// so the console works under a stage prefix (/Prod/) as at the root of a domain.
export const apiRoot = new URL("../../../", import.meta.url);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

export function loadSession() {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  return stored ? JSON.parse(stored) : null;
}

export function saveSession(session) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(STORAGE_KEY);
}

function credentialHeaders(credential) {
  return credential.kind === "bearer"
    ? { Authorization: `Bearer ${credential.secret}` }
    : { "x-api-key": credential.secret };
}

// GET path (relative to the API's root) with query parameters; empty values are left out.
// Returns {body, asOf}: asOf is X-Eventlog-As-Of, how fresh the statistics are.
export async function apiGet(path, params = {}, credential = loadSession()?.credential) {
  const url = new URL(path.replace(/^\//, ""), apiRoot);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const reply = await fetch(url, {
    headers: { Accept: "application/json", ...credentialHeaders(credential) },
    credentials: "omit",
    cache: "no-store",
  });
  const text = await reply.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text };
  }
  if (!reply.ok) throw new ApiError(reply.status, body);
  return { body, asOf: reply.headers.get("X-Eventlog-As-Of") };
}

// Who the credential is: an admin (GET /apps answers) or an app's user (403 there, so the app
// must be given, and its events must answer). A wrong credential is a 401.
export async function signIn(credential, appId) {
  const claims = tokenClaims(credential);
  if (claims.role !== "user") {
    try {
      await apiGet("apps", { limit: 1 }, credential);
      return { credential, admin: true, appId: appId || null };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 403) throw error;
    }
  }
  const ownApp = appId || claims.app;
  if (!ownApp)
    throw new ApiError(400, { message: "This credential is not an admin's: give its app id." });
  await apiGet(`apps/${ownApp}/events`, { limit: 1 }, credential);
  return { credential, admin: false, appId: String(ownApp) };
}

// A token's claims (`role`, `app`), read to pick the app and skip asking a user's token for the
// apps; not verified here: the API verifies the token on every call.
function tokenClaims(credential) {
  if (credential.kind !== "bearer") return {};
  try {
    const payload = credential.secret.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}
