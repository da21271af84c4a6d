"""What every other part stands on: settings, domain errors, identifiers, time."""
