"""Runs the cloud-custodian CLI and counts the AWS calls it makes.

Every botocore API call goes through BaseClient._make_api_call; wrapping it
counts calls by service and operation without touching custodian. The counts
and the in-process time are written as JSON to the file named by
TOILKIT_COUNTS_FILE. Arguments are custodian's own (`run -s out ...`).
"""

import collections
import json
import os
import sys
import time

import botocore.client

counts = collections.Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self, operation_name, api_params):
    counts[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
    return _original(self, operation_name, api_params)


botocore.client.BaseClient._make_api_call = _counting


def main():
    from c7n.cli import main as custodian

    started = time.monotonic()
    code = 0
    try:
        sys.argv = ["custodian"] + sys.argv[1:]
        custodian()
    except SystemExit as exit:
        code = exit.code or 0
    finally:
        with open(os.environ["TOILKIT_COUNTS_FILE"], "w") as out:
            json.dump(
                {"calls": counts, "seconds": time.monotonic() - started, "exit": code},
                out,
            )
    return code


if __name__ == "__main__":
    sys.exit(main())
