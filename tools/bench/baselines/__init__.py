"""The handlers the cold-start section measures the project's against (bench.coldstart): each is
copied alone into a folder of its own as app.py, as a function's code is deployed."""
