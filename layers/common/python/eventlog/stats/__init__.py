"""Counting from the events table's stream and reading the counts back as statistics."""
