"""Request and response bodies, one module per part of the API.

Each handler imports only the models it serves: building pydantic classes is much of a cold
start, so the authorizer, for one, never builds the admin or event models.
"""
