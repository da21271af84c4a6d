// An app's statistics, as the API gives them: timeseries (interval switch), by level, top
// messages, by name, hourly distribution in a chosen time zone. Charts by the vendored uPlot;
// every chart's numbers are also in a table.

import { apiGet } from "./api.js";
import { LEVELS, el, empty, errorBox, field, levelBadge, select, table, when } from "./dom.js";

const RANGES = [
  ["1", "Last hour"],
  ["6", "Last 6 hours"],
  ["24", "Last 24 hours"],
  ["168", "Last 7 days"],
  ["720", "Last 30 days"],
];
const INTERVALS = [
  ["MINUTE", "Minute"],
  ["HOUR", "Hour"],
  ["DAY", "Day"],
];
const ACCENT = "#1d4ed8";
const REFRESH_MILLISECONDS = 10000;

// Bars: each value is a bucket's count, not a reading between which a line could interpolate.
function chart(title, labels, values, { timeAxis = true } = {}) {
  const holder = el("figure", { class: "chart" }, el("figcaption", {}, title));
  const width = Math.max(280, Math.min(900, document.getElementById("main").clientWidth - 32));
  // Half a bucket of room at each end, so the first and last bars are drawn whole.
  const half = labels.length > 1 ? (labels[1] - labels[0]) / 2 : 0.5;
  const series = {
    label: "events",
    stroke: ACCENT,
    fill: "rgba(29, 78, 216, 0.55)",
    width: 1,
    paths: window.uPlot.paths.bars({ size: [0.7] }),
    points: { show: false },
  };
  // Drawn once the figure is in the page (uPlot measures its container).
  queueMicrotask(() => {
    new window.uPlot(
      {
        width,
        height: 220,
        scales: {
          x: { time: timeAxis, range: (_u, min, max) => [min - half, max + half] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: timeAxis
          ? [{}, {}]
          : [{ values: (_u, ticks) => ticks.map((tick) => `${tick}h`) }, {}],
        series: [{}, series],
        legend: { show: false },
      },
      [labels, values],
      holder,
    );
  });
  return holder;
}

export async function statsPage(view, appId) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const controls = el(
    "form",
    { class: "filters", id: "stats-controls" },
    field("Range", select("range", RANGES, "24")),
    field("Interval", select("interval", INTERVALS, "HOUR")),
    field("Level", select("level", [["", "any"], ...LEVELS.map((level) => [level, level])], "")),
    field(
      "Time zone",
      el("input", { name: "tz", value: zone, autocomplete: "off", spellcheck: "false" }),
      "IANA name, e.g. Europe/Paris",
    ),
    el("button", { type: "submit" }, "Show"),
  );
  const refresh = el("input", { type: "checkbox", id: "refresh" });
  const results = el("div", { id: "stats" });
  view.replaceChildren(
    el("h2", {}, `App ${appId}: statistics`),
    controls,
    el("p", {}, el("label", { class: "inline" }, refresh, " Refresh every 10 seconds")),
    results,
  );

  const render = async (quietly = false) => {
    const form = new FormData(controls);
    const until = new Date();
    const since = new Date(until.getTime() - Number(form.get("range")) * 3600 * 1000);
    const range = { since: since.toISOString(), until: until.toISOString() };
    const level = form.get("level");
    if (!quietly) results.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    const path = (name) => `apps/${appId}/stats/${name}`;
    const [timeseries, byLevel, top, byName, hourly] = await Promise.allSettled([
      apiGet(path("timeseries"), { ...range, level, interval: form.get("interval") }),
      apiGet(path("by-level"), range),
      apiGet(path("top-messages"), { ...range, level }),
      apiGet(path("by-name"), { ...range, level }),
      apiGet(path("hourly"), { ...range, tz: form.get("tz").trim() }),
    ]);
    results.replaceChildren(
      section("Events over time", timeseries, timeseriesView),
      section("By level", byLevel, byLevelView),
      section("Top messages", top, topView),
      section("By name", byName, byNameView),
      section("By hour of the day", hourly, hourlyView),
    );
  };

  controls.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    render();
  });
  await render();
  const timer = setInterval(() => {
    if (refresh.checked) render(true);
  }, REFRESH_MILLISECONDS);
  return () => clearInterval(timer);
}

function section(title, outcome, view) {
  const body =
    outcome.status === "fulfilled" ? view(outcome.value.body) : [errorBox(outcome.reason)];
  const asOf = outcome.status === "fulfilled" && outcome.value.asOf;
  return el(
    "section",
    { class: "card" },
    el("h3", {}, title),
    asOf ? el("p", { class: "muted small" }, `Counted up to ${when(asOf)}`) : null,
    body,
  );
}

function timeseriesView(body) {
  const total = body.series.reduce((sum, bucket) => sum + bucket.count, 0);
  const labels = body.series.map((bucket) => Date.parse(bucket.bucket_start) / 1000);
  const values = body.series.map((bucket) => bucket.count);
  return [
    el(
      "p",
      {},
      "Total: ",
      el("strong", { id: "timeseries-total" }, String(total)),
      ` (${body.interval.toLowerCase()} buckets, ${when(body.since)} – ${when(body.until)})`,
    ),
    chart("Events per bucket", labels, values),
    el(
      "details",
      {},
      el("summary", {}, "Numbers"),
      table(
        "Events per bucket",
        ["Bucket", "Events"],
        body.series.map((bucket) =>
          el(
            "tr",
            {},
            el("td", {}, when(bucket.bucket_start)),
            el("td", { class: "num" }, String(bucket.count)),
          ),
        ),
      ),
    ),
  ];
}

function byLevelView(body) {
  const most = Math.max(1, ...body.items.map((item) => item.count));
  const rows = body.items.map((item) =>
    el(
      "tr",
      { dataset: { level: item.level } },
      el("td", {}, levelBadge(item.level)),
      el("td", { class: "num count" }, String(item.count)),
      el(
        "td",
        {},
        el("meter", { min: 0, max: most, value: item.count, "aria-label": `${item.level} share` }),
      ),
    ),
  );
  return [
    table(
      "Events by level",
      ["Level", "Events", ""],
      rows.length ? rows : [empty(3, "No events.")],
      { id: "by-level" },
    ),
  ];
}

function topView(body) {
  const rows = body.items.map((item) =>
    el(
      "tr",
      {},
      el("td", { class: "message" }, item.message),
      el("td", { class: "num" }, String(item.count)),
      el("td", { class: "nowrap" }, when(item.last_seen)),
    ),
  );
  return [
    table(
      `The ${body.limit} most frequent messages`,
      ["Message", "Events", "Last seen"],
      rows.length ? rows : [empty(3, "No messages.")],
      { id: "top-messages" },
    ),
  ];
}

function byNameView(body) {
  const rows = body.items.map((item) =>
    el(
      "tr",
      { dataset: { name: item.name } },
      el("td", {}, item.name),
      el("td", { class: "num count" }, String(item.count)),
      el("td", { class: "nowrap" }, when(item.last_seen)),
    ),
  );
  return [
    table(
      "Events by name",
      ["Name", "Events", "Last seen (hour)"],
      rows.length ? rows : [empty(3, "No named events.")],
      { id: "by-name" },
    ),
  ];
}

function hourlyView(body) {
  const hours = body.hour_count.map((_count, hour) => hour);
  return [
    el("p", {}, `${body.total} events by hour of the day in ${body.tz}`),
    chart(`Events by hour (${body.tz})`, hours, body.hour_count, { timeAxis: false }),
    el(
      "details",
      {},
      el("summary", {}, "Numbers"),
      table(
        `Events by hour in ${body.tz}`,
        ["Hour", "Events"],
        body.hour_count.map((count, hour) =>
          el(
            "tr",
            {},
            el("td", {}, `${String(hour).padStart(2, "0")}:00`),
            el("td", { class: "num" }, String(count)),
          ),
        ),
        { id: "hourly" },
      ),
    ),
  ];
}
