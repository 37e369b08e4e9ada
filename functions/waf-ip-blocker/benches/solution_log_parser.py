#!/usr/bin/env python3
"""A reimplementation of the approach of the AWS solution "Security Automations
for AWS WAF" v4.0.4 (HTTP flood protection, "yes - AWS Lambda log parser"),
written from its public source for toilkit's waf-ip-blocker bench.

This is not the solution's code and not a copy of it: it was written
independently from the facts below, read in aws-solutions/aws-waf-security-automations
at tag v4.0.4 (commit 28b94cf78d0a9fc6f1e6af0db6b7ebba3fb3cd17, the latest
release; the code paths below are unchanged since v4.0.2). It does the same
work per log line and the same S3 / WAFV2 / CloudWatch calls per run, in the
same order, with the same pause, so that the bench can time "what the
solution does" rather than a loop written for the bench.

Facts (paths relative to the upstream repository at v4.0.4)
===========================================================

Trigger
-------
* WAF logs reach the WAF log bucket through Kinesis Data Firehose: GZIP,
  buffered 300 s or 5 MB, prefix AWSLogs/year=.../hour=.../
  (deployment/aws-waf-security-automations-firehose-athena.template, 142-158).
* A custom resource puts an S3 bucket notification on that bucket:
  s3:ObjectCreated:* with key suffix "gz" -> the LogParser Lambda
  (source/custom_resource/resource_manager.py, add_s3_bucket_lambda_event
  90-143; S3_OBJECT_CREATED at 24; template ConfigureWafLogBucket 2449-2457).
* LogParser Lambda: python3.10, 512 MB, 300 s timeout; env
  LIMIT_IP_ADDRESS_RANGES_PER_IP_MATCH_CONDITION=10000, MAX_AGE_TO_UPDATE=30,
  SCOPE=REGIONAL for ALB else CLOUDFRONT, IP_SET_ID_HTTP_FLOODV4/V6 (set
  ARNs), IP_SET_NAME_HTTP_FLOODV4/V6, LOG_LEVEL=INFO,
  SEND_ANONYMIZED_USAGE_DATA='Yes' (deployment/aws-waf-security-automations.template,
  LogParser 1757-1803; Mappings 695-700).
* source/log_parser/log_parser.py lambda_handler 163-196: for each record of
  event['Records'], process_record (199-233) then send_anonymized_usage_data
  (72-157). A record whose bucket is WAF_ACCESS_LOG_BUCKET and whose key
  (unquote_plus) does not start with "athena_results/" is processed with
  conf "<STACK_NAME>-waf_log_conf.json", output "<STACK_NAME>-waf_log_out.json",
  log type 'waf', IP set type "flood" (217-229).
* Per invocation the handler builds AthenaLogParser (which builds an S3 helper
  and its own LambdaLogParser) and a LambdaLogParser; each S3 helper creates a
  boto3 S3 client and an S3 resource, so 3 clients + 3 resources per
  invocation (log_parser.py 174, 182; log_parser/athena_log_parser.py 30-33;
  lib/s3_util.py 19-22). The WAFV2 client is module-level, created once per
  container (lib/waflibv2.py 23). All clients: retries standard mode,
  max_attempts 5 (lib/boto3_util.py 22-41).

Configuration
-------------
* The conf object is written at deploy time by a custom resource:
  {"general": {"requestThreshold": RequestThreshold, "blockPeriod":
  WAFBlockPeriod, "ignoredSufixes": []}, "uriList": {}}
  (source/custom_resource/resource_manager.py 556-585; template
  GenerateWafLogParserConfFile 2470-2478). A user may edit it to add
  ignoredSufixes and per-URI {"requestThreshold", "blockPeriod"} entries
  (example: source/log_parser/test/test_data/waf_stack-waf_log_conf.json).
* The RequestThreshold parameter is documented as "per FIVE-minute period"
  (template 459-470), but for the Lambda parser it is copied unchanged into
  requestThreshold and compared with per-minute counts (below). Defaults:
  RequestThreshold 100, WAFBlockPeriod 240 minutes (template 459-508).
  RequestThresholdByCountry and HTTPFloodAthenaQueryGroupBy apply to the
  Athena parser only; the Lambda parser never reads them.

Run (source/log_parser/lambda_log_parser.py, process_log_file 615-643)
----------------------------------------------------------------------
1. Read the conf: S3 resource Object(bucket, conf).get() and json.loads
   (lib/s3_util.py 24-34) -> one GetObject.
2. Download the log object to /tmp with s3_client.download_file
   (parse_log_file 170-185; lib/s3_util.py 36-43) -> HeadObject + GetObject
   (ranged GETs above boto3's 8 MB multipart threshold).
3. Parse (read_log_file 112-136, read_contents 139-167, read_waf_log_file
   64-73, update_threshold_counter 97-109): gzip.open(path, 'r'), iterate
   bytes lines; per line: decode, json.loads; key = local-time (UTC on Lambda)
   datetime.fromtimestamp(timestamp/1000).isoformat(sep='T',
   timespec='minutes') + ' ' + httpRequest.clientIp; uri =
   urlparse(httpRequest.uri).path; skip the line if uri ends with one of
   general.ignoredSufixes (the list is turned into a tuple on every line);
   otherwise count +1 for the (minute, clientIp) key, and also per URI when
   the path is exactly a uriList key. No filter on action (BLOCK, ALLOW,
   COUNT... all count), no status code, no country, no labels. A line that
   fails (bad JSON, missing field) is logged and skipped; the 5th failing
   line of a file re-raises and the invocation fails (129-134). The local
   file is removed afterwards.
4. Outstanding requesters (get_outstanding_requesters 237-251, 188-234): for
   each (minute, ip) count >= requestThreshold (general, or the URI's own),
   keep ip -> {"max_counter_per_min": the largest such count, "updated_at":
   now as "%Y-%m-%d %H:%M:%S %Z%z"}. So: an IP is flagged when it made at
   least requestThreshold requests in one calendar minute (UTC-aligned)
   within ONE log object; counts are never carried across objects.
5. Merge with the previous run (merge_outstanding_requesters 431-473, helpers
   254-428): HeadObject on the output key; if absent -> need_update, no
   merge. Otherwise age = minutes since its LastModified; download it
   (download_file: HeadObject + GetObject); for each previous "general" IP:
   if flagged again now -> updated_at = now, max counter = max of both; else
   if its max counter < current threshold -> dropped (force_update); else if
   minutes since its updated_at < blockPeriod -> kept as it was; else expired,
   dropped (force_update). uriList: if the conf has no uriList (the default)
   -> force_update and previous uriList entries are dropped; otherwise the
   same rule per URI, except that only the FIRST previous IP of each URI is
   looked at (a return inside the loop, 384-403; blockPeriod is read from
   "general", 365). need_update = force_update or age > MAX_AGE_TO_UPDATE (30)
   or anything flagged (467-470). With the default conf (empty uriList)
   need_update is therefore true on every run.
6. If need_update: write_output (476-491): json.dump to /tmp, upload_file
   with ContentType application/json (lib/s3_util.py 45-53) -> PutObject.
   Then update_ip_set (549-612): merge general and uriList into one map
   (merge_lists 494-506); truncate to 10000 (truncate_list 509-527: this
   path reads a local `counter` before assigning it, so above 10000
   addresses it raises, the error is logged and NEITHER IP set is updated);
   split by IP version and append /32 or /128 to the address as logged
   (build_ip_list_to_block 530-546, lib/waflibv2.py set_ip_cidr 51-63).
7. WAF update (lib/waflibv2.py update_ip_set 160-197), v4 set then v6 set:
   GetIPSet (Id = last "/" part of the ARN) for LockToken and Description,
   UpdateIPSet with Addresses = the whole computed list (replaces the set's
   content; addresses not in the list are removed), Description and
   LockToken, then GetIPSet again. Every exception is caught inside and
   returns None, so the @backoff retry on WAFOptimisticLockException never
   fires and a lock conflict is not retried (only botocore's own standard
   retries apply). An IP set without a Description fails the same way
   (KeyError). Between the v4 and v6 updates: sleep(5) "to mitigate AWS WAF
   Update API call throttling" (lambda_log_parser.py 35, 601-602). The v6 set
   is written even when its list is empty.
8. Usage data, on by default (log_parser.py 72-157, 47-69,
   lib/cw_metrics_util.py 29-108): a CloudWatch client, then
   GetMetricStatistics for AllowedRequests/ALL, BlockedRequests/ALL; for each
   rule family whose env IP set ids exist (HTTP flood here; scanners &
   probes only when that protection is on): GetIPSet v4, GetIPSet v6,
   GetMetricStatistics BlockedRequests/<prefix>HttpFloodRegularRule; then
   AllowedRequests and BlockedRequests for <prefix>WAFWebACL; then an HTTPS
   POST to https://metrics.awssolutionsbuilder.com/generic (requests,
   timeout 10 s; lib/solution_metrics.py 51). Errors are logged, never raised.

What this script does not reproduce
-----------------------------------
* The HTTPS POST of usage data is NOT sent (counted in "skipped_calls");
  the CloudWatch and GetIPSet calls that precede it are made (unless
  --no-usage-data).
* INFO logging (a few lines per run, none per log line) is not emitted.
* The run is timed from handler entry in a warm container: the module-level
  WAFV2 client exists before the clock starts; the per-invocation S3 clients
  and resources are created inside the timed part, as upstream does.
* Python is whatever runs this script (upstream: python3.10 on Lambda).

Making toilkit's waf-ip-blocker decide the same
-----------------------------------------------
* WINDOW_SECONDS=60 and THRESHOLD=<--threshold>: both flag at >= threshold
  in a UTC-aligned minute (the solution's minute is Lambda local time, UTC).
* COUNT_ACTIONS=ALLOW,BLOCK,COUNT,CAPTCHA,CHALLENGE: the solution counts
  every action.
* Keep each minute's requests inside one object: toilkit adds a window's
  counts across objects (ledger), the solution never does.
* IGNORE_URI_SUFFIXES = --ignored-suffixes (the solution tests the path of
  urlparse(uri); WAF's uri carries no query string). A --uri-threshold
  request still counts toward the general threshold in the solution; in
  toilkit a URI_RULES match counts only toward its rule. Leave both unset
  (as the solution deploys) to compare like with like.
* No CLIENT_IP_HEADER (the solution uses httpRequest.clientIp), and fewer than
  MAX_NEW_BLOCKS_PER_RUN and 10000 addresses.
* IP sets: the solution replaces each set's content with its own list (an
  address put there by anyone else is removed); toilkit never touches
  addresses it did not add. Start both from empty sets.

Usage
=====
  solution_log_parser.py --parse-only FILE.gz [--threshold N]
      [--ignored-suffixes .css,.js] [--uri-threshold /path=N ...]
  solution_log_parser.py --end-to-end --endpoint-url URL --bucket B --key K
      --ipv4-set-name N --ipv4-set-id ID|ARN --ipv6-set-name N
      --ipv6-set-id ID|ARN [--scope REGIONAL] [--region us-east-1]
      [--threshold 100] [--block-period 240] [--stack-name waf-stack]
      [--update-delay 5] [--no-usage-data] [--no-write-conf] [--fresh]

Both print one JSON object on stdout (see main()).
"""

import argparse
import datetime
import gzip
import ipaddress
import json
import os
import shutil
import sys
import tempfile
import time
from urllib.parse import urlparse

# Upstream constants (see the module docstring for where each comes from).
DELAY_BETWEEN_UPDATES = 5  # seconds, between the v4 and the v6 UpdateIPSet
MAX_AGE_TO_UPDATE = 30  # minutes
IP_SET_LIMIT = 10000  # LIMIT_IP_ADDRESS_RANGES_PER_IP_MATCH_CONDITION
MAX_LINE_ERRORS = 5  # the 5th failing line fails the invocation
UPDATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S %Z%z"
CW_PERIOD_SECONDS = 300
WINDOW_SECONDS = 60  # fixed: one calendar minute


def lambda_clock():
    """Lambda runs with TZ=UTC; upstream keys minutes by local time."""
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()


def build_conf(threshold, block_period, ignored_suffixes, uri_thresholds):
    """The conf object the deploy-time custom resource writes (plus optional
    user edits: ignored suffixes, per-URI thresholds)."""
    uris = {}
    for path, limit in uri_thresholds:
        uris[path] = {"requestThreshold": limit, "blockPeriod": block_period}
    return {
        "general": {
            "requestThreshold": threshold,
            "blockPeriod": block_period,
            "ignoredSufixes": list(ignored_suffixes),
        },
        "uriList": uris,
    }


class MinuteCounter:
    """Per-line parse and count, as the solution's WAF path does it."""

    def __init__(self, conf):
        self.conf = conf
        self.general = {}  # "YYYY-MM-DDTHH:MM <clientIp>" -> requests
        self.by_uri = {}  # path -> {key -> requests}
        self.lines = 0
        self.ignored = 0
        self.errors = 0

    def feed(self, raw):
        general_conf = self.conf["general"]
        record = json.loads(str(raw.decode()))
        stamp = datetime.datetime.fromtimestamp(int(record["timestamp"]) / 1000.0)
        request = record["httpRequest"]
        key = stamp.isoformat(sep="T", timespec="minutes") + " " + request["clientIp"]
        path = urlparse(request["uri"]).path
        # Upstream rebuilds the suffix tuple from the conf list on every line.
        if "ignoredSufixes" in general_conf and path.endswith(
            tuple(general_conf["ignoredSufixes"])
        ):
            self.ignored += 1
            return
        if key in self.general:
            self.general[key] = self.general[key] + 1
        else:
            self.general[key] = 1
        if "uriList" in self.conf and path in self.conf["uriList"]:
            per_path = self.by_uri.setdefault(path, {})
            if key in per_path:
                per_path[key] = per_path[key] + 1
            else:
                per_path[key] = 1

    def read_gzip(self, path):
        with gzip.open(path, "r") as lines:
            for raw in lines:
                self.lines += 1
                try:
                    self.feed(raw)
                except Exception as err:
                    self.errors += 1
                    print(f"line {self.lines}: {err!r}", file=sys.stderr)
                    if self.errors == MAX_LINE_ERRORS:
                        raise

    def outstanding(self, now_text):
        """IPs with at least requestThreshold requests in some minute."""
        found = {"general": {}, "uriList": {}}

        def keep(into, key, hits, limit):
            ip = key.split(" ")[-1]
            if hits < limit:
                return
            if ip not in into or hits > into[ip]["max_counter_per_min"]:
                into[ip] = {"max_counter_per_min": hits, "updated_at": now_text}

        limit = self.conf["general"]["requestThreshold"]
        for key, hits in self.general.items():
            keep(found["general"], key, hits, limit)
        for path, counts in self.by_uri.items():
            path_limit = self.conf["uriList"][path]["requestThreshold"]
            for key, hits in counts.items():
                if hits >= path_limit:
                    keep(found["uriList"].setdefault(path, {}), key, hits, path_limit)
        return found


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def merge_previous(conf, previous, found, now, now_text):
    """Fold the previous run's output into this run's findings, in place.
    Returns force_update."""
    force = False
    general_conf = conf["general"]

    def still_blocked(entry, limit):
        # -> (keep, force)
        if entry["max_counter_per_min"] < limit:
            return False, True
        since = datetime.datetime.strptime(
            entry["updated_at"], UPDATED_AT_FORMAT
        ).astimezone(datetime.timezone.utc)
        if (now - since).total_seconds() / 60 < general_conf["blockPeriod"]:
            return True, False
        return False, True

    for ip, entry in previous.get("general", {}).items():
        try:
            mine = found["general"].get(ip)
            if mine is not None:
                mine["updated_at"] = now_text
                if entry["max_counter_per_min"] > mine["max_counter_per_min"]:
                    mine["max_counter_per_min"] = entry["max_counter_per_min"]
                continue
            keep, dropped = still_blocked(entry, general_conf["requestThreshold"])
            force = force or dropped
            if keep:
                found["general"][ip] = entry
        except Exception as err:
            print(f"merge general {ip}: {err!r}", file=sys.stderr)

    if "uriList" in previous:
        try:
            if not conf.get("uriList"):
                force = True
            else:
                suffixes = tuple(general_conf.get("ignoredSufixes", []))
                for path, entries in previous["uriList"].items():
                    if "ignoredSufixes" in general_conf and path.endswith(suffixes):
                        force = True
                        continue
                    # Upstream returns after the first entry of each URI.
                    for ip, entry in list(entries.items())[:1]:
                        try:
                            mine = found["uriList"].get(path, {}).get(ip)
                            if mine is not None:
                                mine["updated_at"] = now_text
                                if entry["max_counter_per_min"] > mine["max_counter_per_min"]:
                                    mine["max_counter_per_min"] = entry["max_counter_per_min"]
                                continue
                            keep, dropped = still_blocked(
                                entry, conf["uriList"][path]["requestThreshold"]
                            )
                            force = force or dropped
                            if keep:
                                found["uriList"].setdefault(path, {})[ip] = entry
                        except Exception as err:
                            print(f"merge uriList {path} {ip}: {err!r}", file=sys.stderr)
        except Exception as err:
            print(f"merge uriList: {err!r}", file=sys.stderr)
    return force


def addresses_to_block(found):
    """One map of IPs (uriList entries win when their count is higher), then
    the /32 and /128 lists. Raises above the 10000 limit, as upstream does."""
    unified = found["general"]  # upstream mutates the general map
    for entries in found["uriList"].values():
        for ip, entry in entries.items():
            if ip not in unified or entry["max_counter_per_min"] > unified[ip]["max_counter_per_min"]:
                unified[ip] = entry
    if len(unified) > IP_SET_LIMIT:
        # Upstream's truncation reads a counter it never initialised: the
        # UnboundLocalError is logged and neither set is updated.
        raise RuntimeError(
            f"{len(unified)} addresses > {IP_SET_LIMIT}: upstream's truncate_list fails here"
        )
    v4, v6 = [], []
    for ip in unified:
        try:
            version = ipaddress.ip_address(ip.strip()).version
        except ValueError:
            continue
        if version == 4:
            v4.append(ip.strip() + "/32")
        else:
            v6.append(ip.strip() + "/128")
    return v4, v6


def parse_only(args):
    lambda_clock()
    conf = build_conf(args.threshold, args.block_period, args.ignored_suffixes, args.uri_threshold)
    started = time.perf_counter()
    counter = MinuteCounter(conf)
    counter.read_gzip(args.parse_only)
    found = counter.outstanding(utc_now().strftime(UPDATED_AT_FORMAT))
    seconds = time.perf_counter() - started
    blocked = set(found["general"])
    for entries in found["uriList"].values():
        blocked.update(entries)
    return {
        "mode": "parse-only",
        "implementation": "reimplementation of Security Automations for AWS WAF v4.0.4 Lambda log parser (from its public source)",
        "seconds": seconds,
        "lines": counter.lines,
        "lines_ignored": counter.ignored,
        "lines_failed": counter.errors,
        "counters": len(counter.general),
        "threshold": args.threshold,
        "window_seconds": WINDOW_SECONDS,
        "blocked": sorted(blocked),
        "max_counter_per_min": {
            ip: found["general"][ip]["max_counter_per_min"] for ip in sorted(found["general"])
        },
    }


class CallCounter:
    def __init__(self):
        self.calls = {}
        self.operations = {}
        self.enabled = True

    def __call__(self, model, **_):
        if not self.enabled:
            return
        service = model.service_model.endpoint_prefix
        if service == "monitoring":
            service = "cloudwatch"
        self.calls[service] = self.calls.get(service, 0) + 1
        name = f"{service}:{model.name}"
        self.operations[name] = self.operations.get(name, 0) + 1


def end_to_end(args):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    lambda_clock()
    session_args = {"region_name": args.region}
    if args.endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
        session_args.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    session = boto3.session.Session(**session_args)
    calls = CallCounter()
    config = Config(retries={"max_attempts": 5, "mode": "standard"})

    def client(name):
        return session.client(name, endpoint_url=args.endpoint_url, config=config)

    def resource(name):
        return session.resource(name, endpoint_url=args.endpoint_url, config=config)

    conf_key = args.stack_name + "-waf_log_conf.json"
    out_key = args.stack_name + "-waf_log_out.json"

    # Set-up, not timed: the deploy-time conf object, an optional clean slate.
    setup_s3 = client("s3")
    if args.write_conf:
        conf = build_conf(args.threshold, args.block_period, args.ignored_suffixes, args.uri_threshold)
        setup_s3.put_object(
            Bucket=args.bucket, Key=conf_key, Body=json.dumps(conf).encode(),
            ContentType="application/json",
        )
    if args.fresh:
        setup_s3.delete_object(Bucket=args.bucket, Key=out_key)

    session.events.register("before-call.*.*", calls)
    waf = client("wafv2")  # module-level upstream: exists in a warm container
    work = tempfile.mkdtemp(prefix="solution-log-parser-")
    timings = {}
    skipped = {}
    errors = []
    try:
        started = time.perf_counter()

        # Per invocation: AthenaLogParser (S3 helper + its own LambdaLogParser
        # with an S3 helper) and a LambdaLogParser (S3 helper); each helper
        # makes an S3 client and an S3 resource.
        t = time.perf_counter()
        helpers = [(client("s3"), resource("s3")) for _ in range(3)]
        s3, s3r = helpers[-1]
        timings["client_setup_seconds"] = time.perf_counter() - t

        # 1. Conf.
        conf = json.loads(s3r.Object(args.bucket, conf_key).get()["Body"].read())

        # 2. Download the log object.
        t = time.perf_counter()
        local = os.path.join(work, args.key.split("/")[-1])
        s3.download_file(args.bucket, args.key, local)
        timings["download_seconds"] = time.perf_counter() - t

        # 3-4. Parse, count, outstanding requesters.
        t = time.perf_counter()
        counter = MinuteCounter(conf)
        counter.read_gzip(local)
        os.remove(local)
        found = counter.outstanding(utc_now().strftime(UPDATED_AT_FORMAT))
        timings["parse_seconds"] = time.perf_counter() - t

        # 5. Merge with the previous output.
        t = time.perf_counter()
        try:
            head = s3.head_object(Bucket=args.bucket, Key=out_key)
        except ClientError:
            head = None
        if head is None:
            need_update = True
        else:
            now = utc_now()
            now_text = now.strftime(UPDATED_AT_FORMAT)
            age = int((now - head["LastModified"].astimezone(datetime.timezone.utc)).total_seconds() / 60)
            remote = local + "_REMOTE.json"
            s3.download_file(args.bucket, out_key, remote)
            with open(remote) as f:
                previous = json.loads(f.read())
            os.remove(remote)
            force = False
            if "general" in previous or "uriList" in previous:
                force = merge_previous(conf, previous, found, now, now_text)
            need_update = (
                force or age > MAX_AGE_TO_UPDATE or len(found["general"]) > 0 or len(found["uriList"]) > 0
            )
        timings["merge_seconds"] = time.perf_counter() - t

        blocked_v4, blocked_v6 = [], []
        timings["sleep_seconds"] = 0.0
        if need_update:
            # 6. Write the output, then the IP sets.
            t = time.perf_counter()
            mine = local + "_LOCAL.json"
            with open(mine, "w") as f:
                json.dump(found, f)
            try:
                s3.upload_file(mine, args.bucket, out_key, ExtraArgs={"ContentType": "application/json"})
            except Exception as err:
                errors.append(f"write output: {err!r}")
            os.remove(mine)
            timings["write_output_seconds"] = time.perf_counter() - t

            t = time.perf_counter()
            try:
                blocked_v4, blocked_v6 = addresses_to_block(found)
                replace_ip_set(waf, args.scope, args.ipv4_set_name, args.ipv4_set_id, blocked_v4, errors)
                s = time.perf_counter()
                time.sleep(args.update_delay)
                timings["sleep_seconds"] = time.perf_counter() - s
                replace_ip_set(waf, args.scope, args.ipv6_set_name, args.ipv6_set_id, blocked_v6, errors)
            except Exception as err:
                errors.append(f"update ip sets: {err!r}")
            timings["ipset_seconds"] = time.perf_counter() - t

        # 8. Usage data (per record, after processing it).
        if args.usage_data:
            t = time.perf_counter()
            send_usage_data(session, client, waf, args, skipped)
            timings["usage_data_seconds"] = time.perf_counter() - t

        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    calls.enabled = False  # the reads below check the result; not the solution's
    state = {}
    for label, name, set_id in (
        ("ipset_v4", args.ipv4_set_name, args.ipv4_set_id),
        ("ipset_v6", args.ipv6_set_name, args.ipv6_set_id),
    ):
        got = waf.get_ip_set(Scope=args.scope, Name=name, Id=set_id.split("/")[-1])
        state[label] = sorted(got["IPSet"]["Addresses"])

    blocked = sorted(a.rsplit("/", 1)[0] for a in blocked_v4 + blocked_v6)
    return {
        "mode": "end-to-end",
        "implementation": "reimplementation of Security Automations for AWS WAF v4.0.4 Lambda log parser (from its public source)",
        "seconds": seconds,
        "seconds_without_sleep": seconds - timings["sleep_seconds"],
        **timings,
        "lines": counter.lines,
        "lines_ignored": counter.ignored,
        "lines_failed": counter.errors,
        "counters": len(counter.general),
        "need_update": need_update,
        "blocked": blocked,
        "ipsets": state,
        "calls": calls.calls,
        "operations": calls.operations,
        "skipped_calls": skipped,
        "errors": errors,
    }


def replace_ip_set(waf, scope, name, arn_or_id, addresses, errors):
    """GetIPSet, UpdateIPSet (whole list), GetIPSet; errors logged, no retry
    of a lock conflict."""
    set_id = arn_or_id.split("/")[-1]

    def read():
        try:
            return waf.get_ip_set(Scope=scope, Name=name, Id=set_id)
        except Exception as err:
            errors.append(f"get_ip_set {name}: {err!r}")
            return None

    try:
        current = read()
        token = current["LockToken"]
        description = current["IPSet"]["Description"]
        waf.update_ip_set(
            Scope=scope, Name=name, Description=description, Id=set_id,
            Addresses=addresses, LockToken=token,
        )
        return read()
    except Exception as err:
        errors.append(f"update_ip_set {name}: {err!r}")
        return None


def send_usage_data(session, client, waf, args, skipped):
    cw = client("cloudwatch")
    prefix = "".join(args.stack_name.split("-"))

    def metric(name, rule):
        end = datetime.datetime.utcnow()
        try:
            cw.get_metric_statistics(
                MetricName=name, Namespace="AWS/WAFV2", Statistics=["Sum"],
                Period=CW_PERIOD_SECONDS,
                StartTime=end - datetime.timedelta(seconds=CW_PERIOD_SECONDS), EndTime=end,
                Dimensions=[
                    {"Name": "Rule", "Value": rule},
                    {"Name": "WebACL", "Value": args.stack_name},
                    {"Name": "Region", "Value": args.region},
                ],
            )
        except Exception as err:
            print(f"usage data metric {name}: {err!r}", file=sys.stderr)

    metric("AllowedRequests", "ALL")
    metric("BlockedRequests", "ALL")
    # HTTP flood sets (scanners & probes sets are not deployed in this setup).
    for name, set_id in ((args.ipv4_set_name, args.ipv4_set_id), (args.ipv6_set_name, args.ipv6_set_id)):
        try:
            waf.get_ip_set(Scope=args.scope, Name=name, Id=set_id.split("/")[-1])
        except Exception as err:
            print(f"usage data get_ip_set: {err!r}", file=sys.stderr)
    metric("BlockedRequests", prefix + "HttpFloodRegularRule")
    metric("AllowedRequests", prefix + "WAFWebACL")
    metric("BlockedRequests", prefix + "WAFWebACL")
    skipped["https_post_metrics.awssolutionsbuilder.com"] = 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--parse-only", metavar="FILE", help="gzip WAF log file to parse and count")
    mode.add_argument("--end-to-end", action="store_true", help="S3 object -> output merge -> IP sets")
    p.add_argument("--threshold", type=int, default=100,
                   help="requestThreshold: requests per IP in one calendar minute of one object (default 100)")
    p.add_argument("--window-seconds", type=int, default=WINDOW_SECONDS,
                   help="only 60 is accepted: the solution's window is a fixed calendar minute")
    p.add_argument("--block-period", type=int, default=240, help="blockPeriod in minutes (default 240)")
    p.add_argument("--ignored-suffixes", default="", type=lambda s: [x for x in s.split(",") if x],
                   help="comma-separated ignoredSufixes (default none, as deployed)")
    p.add_argument("--uri-threshold", action="append", default=[], metavar="PATH=N",
                   type=lambda s: (s.rsplit("=", 1)[0], int(s.rsplit("=", 1)[1])),
                   help="a uriList entry (repeatable; default none, as deployed)")
    p.add_argument("--endpoint-url")
    p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    p.add_argument("--bucket")
    p.add_argument("--key")
    p.add_argument("--stack-name", default="waf-stack",
                   help="names <stack>-waf_log_conf.json and <stack>-waf_log_out.json in the bucket")
    p.add_argument("--scope", default="REGIONAL")
    p.add_argument("--ipv4-set-name")
    p.add_argument("--ipv4-set-id", help="IP set id or ARN")
    p.add_argument("--ipv6-set-name")
    p.add_argument("--ipv6-set-id", help="IP set id or ARN")
    p.add_argument("--update-delay", type=float, default=DELAY_BETWEEN_UPDATES,
                   help="pause between the v4 and v6 updates (upstream: 5 s)")
    p.add_argument("--no-usage-data", dest="usage_data", action="store_false",
                   help="skip the usage-data CloudWatch/GetIPSet calls (upstream default: on)")
    p.add_argument("--no-write-conf", dest="write_conf", action="store_false",
                   help="use the conf object already in the bucket (default: write it first, untimed)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the previous run's output object first (untimed): a first run")
    args = p.parse_args(argv)
    if args.window_seconds != WINDOW_SECONDS:
        p.error("the solution counts per calendar minute only: --window-seconds must be 60")
    if args.end_to_end:
        missing = [n for n in ("bucket", "key", "ipv4_set_name", "ipv4_set_id", "ipv6_set_name", "ipv6_set_id")
                   if getattr(args, n) is None]
        if missing:
            p.error("--end-to-end needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
        result = end_to_end(args)
    else:
        result = parse_only(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
