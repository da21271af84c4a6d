"""Getting events out: alert rules and their channels, notifications, subscriptions."""
