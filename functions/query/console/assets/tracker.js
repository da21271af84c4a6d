// Seed 001's event tracker (docs/profiles/seed-001.md): every event's total, its counts by day
// and (admins) its occurrences by hour of the day in UTC. The seed has no apps: an admin sees the
// `default` app, a user key its own.

import { apiGet } from "./api.js";
import { el, empty, table } from "./dom.js";

const HOURS = Array.from({ length: 24 }, (_unused, hour) => hour);

export async function trackerPage(view, session) {
  const [history, byDay, frequencies] = await Promise.all([
    apiGet("api/v1/event_history"),
    apiGet("api/v1/events"),
    session.admin ? apiGet("admin/v1/event_frequencies") : Promise.resolve(null),
  ]);
  const totals = history.body.map((item) =>
    el(
      "tr",
      { dataset: { event: item.event } },
      el("td", {}, item.event),
      el("td", { class: "num count" }, String(item.count)),
    ),
  );
  const days = byDay.body.map((item) =>
    el(
      "tr",
      {},
      el("td", {}, item.event),
      el("td", { class: "nowrap" }, item.date),
      el("td", { class: "num" }, String(item.count)),
    ),
  );
  const hourly = frequencies
    ? table(
        "Occurrences by hour of the day (UTC, last 365 days)",
        ["Event", ...HOURS.map((hour) => String(hour).padStart(2, "0"))],
        frequencies.body.length
          ? frequencies.body.map((item) =>
              el(
                "tr",
                {},
                el("th", { scope: "row" }, item.event),
                item.hour_count.map((count) =>
                  el("td", { class: count ? "num hot" : "num muted" }, String(count)),
                ),
              ),
            )
          : [empty(25, "No events.")],
        { id: "tracker-hourly", class: "dense" },
      )
    : el("p", { class: "muted" }, "The hourly frequencies are an admin's view.");
  view.replaceChildren(
    el("h2", {}, "Event tracker (seed 001)"),
    el(
      "p",
      { class: "muted" },
      session.admin ? "The default app's named events." : "Your app's named events.",
    ),
    table("Totals", ["Event", "Occurrences"], totals.length ? totals : [empty(2, "No events.")], {
      id: "tracker-totals",
    }),
    table(
      "By day (UTC)",
      ["Event", "Day", "Occurrences"],
      days.length ? days : [empty(3, "No events.")],
      { id: "tracker-days" },
    ),
    hourly,
  );
}
