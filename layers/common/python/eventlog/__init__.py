"""Eventlog core: models, storage and rules shared by every function.

Nothing here knows about API Gateway; handlers translate HTTP to these calls.
"""
