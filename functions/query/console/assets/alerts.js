// An app's alert rules and subscriptions, with their delivery state.

import { apiGet } from "./api.js";
import { el, empty, table, when } from "./dom.js";

async function everyItem(path) {
  const items = [];
  let cursor = null;
  do {
    const { body } = await apiGet(path, { limit: 100, cursor });
    items.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  return items;
}

function describeCondition(condition) {
  if (!condition) return "every matching event";
  if (condition.type === "threshold") {
    return `more than ${condition.more_than} in ${condition.window_minutes} min`;
  }
  return `${condition.percent}% more than the ${condition.window_minutes} min before`;
}

function describeChannel(channel) {
  return channel.topic_arn || channel.url || channel.type;
}

function yesNo(value) {
  return value ? "yes" : "no";
}

export async function alertsPage(view, appId) {
  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const [rules, subscriptions, notifications] = await Promise.all([
    everyItem(`apps/${appId}/alert-rules`),
    everyItem(`apps/${appId}/subscriptions`),
    apiGet(`apps/${appId}/stats/notifications`, { since }),
  ]);
  const ruleRows = rules.map((rule) =>
    el(
      "tr",
      { dataset: { ruleId: rule.id } },
      el("td", {}, rule.description || rule.id),
      el(
        "td",
        {},
        [
          rule.min_level && `level ≥ ${rule.min_level}`,
          rule.event_name && `name ${rule.event_name}`,
          rule.service && `service ${rule.service}`,
        ]
          .filter(Boolean)
          .join(", ") || "any event",
      ),
      el("td", {}, describeCondition(rule.condition)),
      el("td", {}, rule.channels.map(describeChannel).join(", ")),
      el("td", { class: "num" }, `${rule.cooldown_seconds} s`),
      el("td", {}, yesNo(rule.enabled)),
    ),
  );
  const subscriptionRows = subscriptions.map((subscription) =>
    el(
      "tr",
      { dataset: { subscriptionId: subscription.id } },
      el("td", {}, subscription.description || subscription.id),
      el("td", { class: "message" }, subscription.url || ""),
      el("td", {}, yesNo(subscription.enabled)),
      el("td", { class: "num" }, String(subscription.delivered)),
      el("td", { class: "num" }, String(subscription.consecutive_failures)),
      el("td", {}, subscription.disabled_reason || subscription.last_error || ""),
      el("td", { class: "nowrap" }, when(subscription.last_delivery_at)),
    ),
  );
  const sent = notifications.body;
  view.replaceChildren(
    el("h2", {}, `App ${appId}: alerts and subscriptions`),
    el(
      "p",
      { id: "notifications" },
      `Notifications in the last 24 hours: ${sent.sent} sent, ${sent.failed} failed.`,
    ),
    table(
      "Alert rules",
      ["Rule", "Matches", "Condition", "Channels", "Cooldown", "Enabled"],
      ruleRows.length ? ruleRows : [empty(6, "No alert rules.")],
      { id: "alert-rules" },
    ),
    table(
      "Subscriptions (forwarding)",
      [
        "Subscription",
        "URL",
        "Enabled",
        "Delivered",
        "Failures in a row",
        "Disabled because / last error",
        "Last delivery",
      ],
      subscriptionRows.length ? subscriptionRows : [empty(7, "No subscriptions.")],
      { id: "subscriptions" },
    ),
  );
}
