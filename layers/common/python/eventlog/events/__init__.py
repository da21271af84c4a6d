"""Raw events above storage: ingesting, listing, numbering and deleting them."""
