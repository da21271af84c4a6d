// An app's events: filters, a live stream (polling the listing for what arrived since the newest
// shown) and cursor paging back in time; one event's detail.

import { apiGet } from "./api.js";
import {
  LEVELS,
  el,
  empty,
  errorBox,
  field,
  levelBadge,
  pretty,
  say,
  select,
  table,
  when,
} from "./dom.js";

const PAGE_SIZE = 50; // the listing's maximum
const POLL_MILLISECONDS = 2000;
const MAX_PAGES_PER_POLL = 10; // a burst larger than this shows on the next poll

function isoOrEmpty(localValue) {
  return localValue ? new Date(localValue).toISOString() : "";
}

function eventRow(appId, event, isNew) {
  const link = el(
    "a",
    { href: `#/apps/${appId}/events/${encodeURIComponent(event.id)}` },
    event.message || event.name || event.id,
  );
  return el(
    "tr",
    { class: isNew ? "new" : null, dataset: { eventId: event.id, level: event.level } },
    el("td", { class: "nowrap" }, when(event.received_at)),
    el("td", {}, levelBadge(event.level)),
    el("td", {}, event.name || ""),
    el("td", {}, event.service || ""),
    el("td", { class: "message" }, link),
  );
}

export async function eventsPage(view, appId) {
  const filters = el(
    "form",
    { class: "filters", id: "filters" },
    field("Level", select("level", [["", "any"], ...LEVELS.map((level) => [level, level])], "")),
    field("Name", el("input", { name: "name", autocomplete: "off" })),
    field("Service", el("input", { name: "service", autocomplete: "off" })),
    field("Since", el("input", { name: "since", type: "datetime-local", step: "1" })),
    field("Until", el("input", { name: "until", type: "datetime-local", step: "1" })),
    el("button", { type: "submit" }, "Apply"),
  );
  const live = el("input", { type: "checkbox", id: "live", checked: true });
  const rows = el("tbody");
  const older = el("button", { type: "button", id: "older", hidden: true }, "Older events");
  const problem = el("div");
  const listing = table("Newest first", ["Received", "Level", "Name", "Service", "Message"], [], {
    id: "events",
  });
  listing.querySelector("tbody").replaceWith(rows);
  view.replaceChildren(
    el("h2", {}, `App ${appId}: events`),
    filters,
    el("p", {}, el("label", { class: "inline" }, live, " Live: show new events as they arrive")),
    problem,
    listing,
    older,
  );

  const seen = new Set();
  let query = {};
  let cursor = null;
  let newest = null;
  let timer = null;

  const show = (events, position, isNew) => {
    const fresh = events.filter((event) => !seen.has(event.id));
    fresh.forEach((event) => seen.add(event.id));
    const built = fresh.map((event) => eventRow(appId, event, isNew));
    if (position === "top") rows.prepend(...built);
    else rows.append(...built);
    if (fresh.length && (!newest || fresh[0].received_at > newest)) newest = fresh[0].received_at;
    if (!seen.size) rows.replaceChildren(empty(5, "No events match."));
    else rows.querySelector("td.muted")?.parentElement.remove();
    return fresh.length;
  };

  const load = async () => {
    const form = new FormData(filters);
    query = {
      level: form.get("level"),
      name: form.get("name").trim(),
      service: form.get("service").trim(),
      since: isoOrEmpty(form.get("since")),
      until: isoOrEmpty(form.get("until")),
    };
    seen.clear();
    newest = null;
    rows.replaceChildren();
    const { body } = await apiGet(`apps/${appId}/events`, { ...query, limit: PAGE_SIZE });
    show(body.items, "bottom", false);
    cursor = body.next_cursor;
    older.hidden = !cursor;
  };

  const poll = async () => {
    if (!live.checked || query.until) return;
    const asked = query; // the filters may change (Apply) while this poll waits
    let pageCursor = null;
    let arrived = [];
    for (let page = 0; page < MAX_PAGES_PER_POLL; page += 1) {
      const since = newest || asked.since;
      const { body } = await apiGet(`apps/${appId}/events`, {
        ...asked,
        since,
        limit: PAGE_SIZE,
        cursor: pageCursor,
      });
      arrived = arrived.concat(body.items);
      pageCursor = body.next_cursor;
      if (!pageCursor) break;
    }
    if (asked !== query) return;
    const count = show(arrived, "top", true);
    if (count) say(`${count} new event${count === 1 ? "" : "s"}`);
  };

  const schedule = () => {
    timer = setTimeout(async () => {
      try {
        await poll();
        problem.replaceChildren();
      } catch (error) {
        problem.replaceChildren(
          el("p", { class: "error", role: "alert" }, `Live updates: ${error.message}`),
        );
      }
      if (timer !== null) schedule();
    }, POLL_MILLISECONDS);
  };

  filters.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    problem.replaceChildren();
    try {
      await load();
      say(`${seen.size} event${seen.size === 1 ? "" : "s"} shown`);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });
  older.addEventListener("click", async () => {
    try {
      const { body } = await apiGet(`apps/${appId}/events`, { ...query, limit: PAGE_SIZE, cursor });
      show(body.items, "bottom", false);
      cursor = body.next_cursor;
      older.hidden = !cursor;
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });

  await load();
  schedule();
  return () => {
    clearTimeout(timer);
    timer = null;
  };
}

export async function eventDetailPage(view, appId, eventId) {
  const { body: event } = await apiGet(`apps/${appId}/events/${encodeURIComponent(eventId)}`);
  const facts = [
    ["Id", event.id],
    ["Level", levelBadge(event.level)],
    ["Name", event.name],
    ["Service", event.service],
    ["Message", event.message],
    ["Occurred", when(event.occurred_at)],
    ["Received", when(event.received_at)],
    ["Count", String(event.count)],
  ].filter(([, value]) => value !== undefined && value !== null && value !== "");
  view.replaceChildren(
    el("p", {}, el("a", { href: `#/apps/${appId}/events` }, "← Back to the events")),
    el("h2", {}, "Event"),
    el(
      "dl",
      { class: "facts", id: "event-detail" },
      facts.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
    ),
    el("h3", {}, "Data"),
    event.data ? pretty(event.data) : el("p", { class: "muted" }, "No data."),
    el("h3", {}, "Stack"),
    event.stack ? pretty(event.stack) : el("p", { class: "muted" }, "No stack."),
  );
}
