"""`python -m eventlog_client ...`: the `eventlog` command."""

import sys

from eventlog_client.cli import main

sys.exit(main())
