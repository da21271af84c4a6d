"""Benchmark: DynamoDB request units per event, on the request path and in the aggregator, the
read cost of a page and of statistics, notifications and propagation, cold starts.

    make bench                  (ARGS="--check" for an exit status that says whether targets hold)
    export PYTHONPATH=layers/common/python:tools
    .venv/bin/python -m bench [--check] [--runs N] [--quick] [--full]

A module per section, each measured in a process of its own (bench.run):

    writes          1.  write units per ingested event, the request path (authorizer + ingest)
    aggregation     1b. the aggregator's write units per event (the events table's stream)
    reads           2.  read units of a page of events, few vs many stored
    stats           3.  read units of a statistic, few vs many events counted
    coldstart       4.  cold starts vs the minimal Powertools stack and bare boto3
    notifications   5.  notifications and propagation (figures, no targets)

The service runs as the local stack runs it (bench.stack): template.yaml's resources in moto,
the handlers loaded by its runtime, requests through its gateway (authorizer, API key, proxy
event), the aggregator driven by its stream poller. Capacity is computed per request from
DynamoDB's documented rules by `capacity.CapacityMeter` (moto's own figures are not reliable),
attached to the core's clients (tools/capacity.py has the rules). Setup (apps, keys, filling
tables) is not counted.

--quick is the round `make test` runs (tests/unit/test_bench.py): small sizes, one cold start
per process, the same code and checks.
"""
