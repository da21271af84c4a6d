"""Request and response bodies of the seed systems' APIs, byte for byte."""
