"""Who may do what: apps, keys, tokens, the principal a credential stands for, usage plans."""
