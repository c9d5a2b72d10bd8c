"""`govbot serve` with the store's scan recording held open mid-transaction, for the SIGTERM tests.

GOVBOT_TEST_MARKER names a file written once the transaction has its rows
(uncommitted); the transaction then stays open GOVBOT_TEST_HOLD_SECONDS.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bot.cli import main
from bot.store import Store

marker = Path(os.environ["GOVBOT_TEST_MARKER"])
hold = float(os.environ["GOVBOT_TEST_HOLD_SECONDS"])
record_scan = Store.record_scan


def slow_record_scan(self, result, now, **kwargs):
    with self.transaction():
        summary = record_scan(self, result, now, **kwargs)
        marker.write_text("writing")
        time.sleep(hold)  # SIGTERM arrives now, with the write half done
    return summary


Store.record_scan = slow_record_scan
sys.argv = ["govbot", *sys.argv[1:]]
main()
