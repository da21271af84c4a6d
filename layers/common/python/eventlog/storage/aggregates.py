"""The aggregates table: what the stream processor counts, what statistics read, the notifier's
state."""
