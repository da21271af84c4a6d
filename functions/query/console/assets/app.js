// The console's shell: sign-in, navigation and the routes (in the URL's fragment, which never
// reaches a server). Each page is a function that fills <main> and may return a cleanup.

import { ApiError, apiGet, clearSession, loadSession, saveSession, signIn } from "./api.js";
import { el, errorBox, field, say, select, table, when } from "./dom.js";
import { alertsPage } from "./alerts.js";
import { eventDetailPage, eventsPage } from "./events.js";
import { statsPage } from "./stats.js";
import { trackerPage } from "./tracker.js";

const main = document.getElementById("main");
let cleanup = null;
let navigation = 0; // which route() is the latest: an older one's page may still be loading

const APP_PAGES = {
  events: eventsPage,
  stats: statsPage,
  alerts: alertsPage,
};

function signInPage(message) {
  const secret = el("input", {
    name: "secret",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
  });
  const kind = select(
    "kind",
    [
      ["key", "API key (x-api-key)"],
      ["bearer", "Bearer token (JWT)"],
    ],
    "key",
  );
  const appId = el("input", { name: "app", inputmode: "numeric", pattern: "[0-9]*" });
  const problem = el("div");
  const form = el(
    "form",
    { class: "card sign-in", id: "sign-in" },
    el("h2", {}, "Sign in"),
    message ? el("p", { class: "error", role: "alert" }, message) : null,
    field("Credential", kind),
    field("Key or token", secret, "Kept in this tab's session storage only, sent as a header."),
    field("App id", appId, "For a user key or token; an admin chooses from the apps."),
    el("button", { type: "submit" }, "Sign in"),
    problem,
  );
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    problem.replaceChildren();
    try {
      const credential = { kind: kind.value, secret: secret.value.trim() };
      const session = await signIn(credential, appId.value.trim());
      saveSession(session);
      say("Signed in");
      go(session.admin ? "#/apps" : `#/apps/${session.appId}/events`);
    } catch (error) {
      problem.replaceChildren(
        errorBox(
          error instanceof ApiError && error.status === 401
            ? "That credential was refused."
            : error,
        ),
      );
    }
  });
  main.replaceChildren(form);
  secret.focus();
}

async function appsPage(view, session) {
  view.replaceChildren(el("h2", {}, "Apps"), el("p", { class: "muted" }, "Loading…"));
  if (!session.admin) {
    view.replaceChildren(
      el("h2", {}, "Apps"),
      el("p", {}, `Your credential reads app ${session.appId}.`),
    );
    return;
  }
  const rows = [];
  let cursor = null;
  do {
    const { body } = await apiGet("apps", { limit: 100, cursor });
    for (const app of body.items) {
      rows.push(
        el(
          "tr",
          { dataset: { appId: app.id } },
          el("td", {}, String(app.id)),
          el("td", {}, el("a", { href: `#/apps/${app.id}/events` }, app.name)),
          el("td", {}, when(app.created_at)),
          el(
            "td",
            { class: "links" },
            el("a", { href: `#/apps/${app.id}/stats` }, "Statistics"),
            el("a", { href: `#/apps/${app.id}/alerts` }, "Alerts"),
          ),
        ),
      );
    }
    cursor = body.next_cursor;
  } while (cursor);
  view.replaceChildren(
    el("h2", {}, "Apps"),
    table("Every app", ["Id", "Name", "Created", "Pages"], rows, { id: "apps" }),
  );
}

function updateChrome(session, appId, page) {
  document.getElementById("nav").hidden = !session;
  document.getElementById("who").hidden = !session;
  if (!session) return;
  document.getElementById("who-label").textContent = session.admin
    ? "admin"
    : `app ${session.appId}`;
  document.getElementById("nav-apps").parentElement.hidden = !session.admin;
  for (const page of Object.keys(APP_PAGES)) {
    document.getElementById(`nav-${page}`).href = appId ? `#/apps/${appId}/${page}` : "#/apps";
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.id === `nav-${page}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Setting an unchanged fragment fires no hashchange: route anyway.
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const current = ++navigation;
  const session = loadSession();
  if (!session) {
    updateChrome(null);
    signInPage();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "apps" && parts[1]) sessionStorage.setItem("eventlog.console.app", parts[1]);
  const appId =
    parts[0] === "apps" && parts[1]
      ? parts[1]
      : session.appId || sessionStorage.getItem("eventlog.console.app");
  const page = parts[0] === "apps" ? parts[2] || "apps" : parts[0];
  updateChrome(session, appId, page);
  // Each route draws into a view of its own: a page still loading when the user moves on draws
  // into a view no longer shown, and its cleanup runs at once.
  const view = el("div");
  main.replaceChildren(view);
  try {
    let pageCleanup = null;
    if (parts[0] === "apps" && parts[1] && parts[2] === "events" && parts[3]) {
      await eventDetailPage(view, appId, parts[3]);
    } else if (parts[0] === "apps" && parts[1] && APP_PAGES[parts[2]]) {
      pageCleanup = await APP_PAGES[parts[2]](view, appId);
    } else if (APP_PAGES[parts[0]] && appId) {
      location.replace(`#/apps/${appId}/${parts[0]}`);
    } else if (parts[0] === "tracker") {
      await trackerPage(view, session);
    } else if (!session.admin && parts[0] !== "apps") {
      location.replace(`#/apps/${session.appId}/events`);
    } else {
      await appsPage(view, session);
    }
    if (current === navigation) cleanup = pageCleanup;
    else if (pageCleanup) pageCleanup();
  } catch (error) {
    if (current !== navigation) return;
    if (error instanceof ApiError && error.status === 401) {
      clearSession();
      updateChrome(null);
      signInPage("Your credential was refused (expired or revoked): sign in again.");
      return;
    }
    view.replaceChildren(errorBox(error));
  }
  if (current === navigation) main.focus({ preventScroll: true });
}

document.getElementById("sign-out").addEventListener("click", () => {
  clearSession();
  sessionStorage.removeItem("eventlog.console.app");
  say("Signed out");
  go("#/");
});
window.addEventListener("hashchange", route);
route();
