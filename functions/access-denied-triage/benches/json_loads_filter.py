"""The Python side of the access-denied-triage benchmark: what a Python
function would do with the same CloudWatch Logs delivery.

The first line on stdin is the delivery's `awslogs.data`. Every further line
asks for one round, answered on stdout as
`<decode seconds> <json.loads + filter seconds> <denied records>`:

- decode: base64, gunzip and `json.loads` of the subscription document;
- json.loads + filter: `json.loads` of every log event's message (one
  CloudTrail record each) and keeping the denied ones.

The benchmark alternates these rounds with its own, so that both see the
same load on a shared machine; the times are taken here, without Python's
start-up or the pipe.
"""

import base64
import gzip
import json
import sys
import time


def is_denied(code):
    """The function's `is_denial_code`: AccessDenied*, *UnauthorizedOperation
    and the *Unauthorized* family; a record without an errorCode succeeded."""
    return isinstance(code, str) and (
        code.startswith("AccessDenied")
        or code.endswith("UnauthorizedOperation")
        or "Unauthorized" in code
    )


def main():
    data = sys.stdin.readline().strip()
    # readline, not `for line in sys.stdin`: each request must be answered
    # as it arrives, not once a buffer fills.
    while sys.stdin.readline():
        started = time.perf_counter()
        document = json.loads(gzip.decompress(base64.b64decode(data)))
        decoded = time.perf_counter()
        denied = []
        for event in document["logEvents"]:
            record = json.loads(event["message"])
            if is_denied(record.get("errorCode")):
                denied.append(record)
        done = time.perf_counter()
        print(decoded - started, done - decoded, len(denied), flush=True)


if __name__ == "__main__":
    main()
