// Building the page from data: elements and text nodes only (never HTML strings), so nothing an
// event carries can become markup or script.

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(
    ...children.flat(Infinity).filter((child) => child !== null && child !== undefined),
  );
  return element;
}

export function table(caption, headings, rows, attributes = {}) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attributes,
      el("caption", {}, caption),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          headings.map((heading) => el("th", { scope: "col" }, heading)),
        ),
      ),
      el("tbody", {}, rows),
    ),
  );
}

export function empty(colspan, text) {
  return el("tr", {}, el("td", { colspan, class: "muted" }, text));
}

export function field(label, control, hint) {
  return el(
    "label",
    { class: "field" },
    el("span", {}, label),
    control,
    hint ? el("small", {}, hint) : null,
  );
}

export function select(name, options, value) {
  return el(
    "select",
    { name },
    options.map(([optionValue, text]) =>
      el("option", { value: optionValue, selected: optionValue === value }, text),
    ),
  );
}

export function levelBadge(level) {
  return el("span", { class: `level level-${String(level).toLowerCase()}` }, level);
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function pretty(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

let quiet = null;

// A short notice in the polite live region (read out by screen readers), cleared after a while.
export function say(message) {
  const status = document.getElementById("status");
  status.textContent = message;
  clearTimeout(quiet);
  quiet = setTimeout(() => {
    status.textContent = "";
  }, 4000);
}

export function errorBox(error) {
  return el("p", { class: "error", role: "alert" }, String(error.message || error));
}

export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
