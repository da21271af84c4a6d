"""The seed systems' own formats, adapted onto the native core."""
