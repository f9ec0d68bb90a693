"""Operating the stack (issue 9): throttling, timeouts, unique outputs, IAM scope, logs and alarms, status,
cost, and `splitstitch cloud event encode` for `sam local invoke`; each on the local stack of template.yaml."""

from __future__ import annotations

import fnmatch
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch_cloud import contract
from tests.cloud.ranges import RangeLog
from tests.cloud.support import Stack, context, handler, served_stack, upload
from tests.probe import decoded_frames

FAST = {"Preset": "ultrafast", "RetryIntervalSeconds": 1, "MaxConcurrency": 4}


@pytest.fixture
def make_stack(aws_env: None) -> Iterator:
    opened: list = []

    def make(execute: bool = True, **overrides: object) -> Stack:
        cm = served_stack(FAST | overrides, execute=execute)
        opened.append(cm)
        return cm.__enter__()

    yield make
    for cm in opened:
        cm.__exit__(None, None, None)


def test_throttled_encodes_are_retried_until_they_run(make_stack, samples) -> None:
    """Reserved concurrency 1 under a Map of 4: Lambda answers 429, the state machine backs off and retries."""
    stack = make_stack(EncodeReservedConcurrency=1, ThrottleRetryIntervalSeconds=1, MaxConcurrency=2)
    job = upload(stack, samples("cfr"), "uploads/throttled.mp4")
    assert stack.wait(job, timeout=120)["status"] == "SUCCEEDED", stack.history(job)
    assert "EncodeSegmentFunction" in stack.invoker.throttled
    assert stack.json(contract.status_key(job))["state"] == "succeeded"


def test_throttle_retries_last_minutes_at_the_template_defaults(make_stack) -> None:
    stack = make_stack(execute=False)
    segment = stack.definition["States"]["Encode"]["Branches"][0]["States"]["Encode segments"]
    retriers = segment["ItemProcessor"]["States"]["Encode segment"]["Retry"]
    throttle = next(r for r in retriers if "Lambda.TooManyRequestsException" in r["ErrorEquals"])
    waits = [min(throttle["IntervalSeconds"] * throttle["BackoffRate"] ** k, throttle.get("MaxDelaySeconds", 1e9))
             for k in range(throttle["MaxAttempts"])]  # fmt: skip
    assert sum(waits) >= 600  # about 12 minutes: a small account quota drains, the job survives
    timeouts = {"States.Timeout", "Sandbox.Timedout", "EncodeTimeout"}
    assert not any(timeouts & set(r["ErrorEquals"]) for r in retriers)  # deterministic timeouts are not retried


def test_an_encode_that_runs_out_of_time_stops_and_is_not_retried(make_stack, samples, monkeypatch) -> None:
    stack = make_stack(EncodeTimeout=6)
    log = RangeLog().install(stack, monkeypatch)

    def slow_reads_for_segment_1(environ: dict) -> None:
        if "EncodeSegmentFunction%3A1" in environ.get("QUERY_STRING", "") or "EncodeSegmentFunction:1" in environ.get(
            "QUERY_STRING", ""
        ):
            time.sleep(1.5)  # a slow source: this encode cannot finish in time
        return None

    stack.extra["observed"].before.append(slow_reads_for_segment_1)
    job = upload(stack, samples("cfr"), "uploads/late.mp4")
    assert stack.wait(job)["status"] == "FAILED"
    assert stack.invoker.count("EncodeSegmentFunction", lambda ev: ev["task"]["segment"]["index"] == 1) == 1
    status = stack.json(contract.status_key(job))
    assert status["reason"].startswith(
        "EncodeTimeout: encode_segment 00001: not finished within 3 s of the function's 6 s"
    ), status
    assert log.reads  # the reads were attributed (the slow path was the one taken)


def test_outputs_are_unique_per_job(make_stack, samples, tmp_path: Path) -> None:
    """uploads/clip.mp4 and uploads/clip.mkv: two jobs, two outputs; the first is not overwritten."""
    stack = make_stack()
    mkv = tmp_path / "clip.mkv"
    run_ffmpeg(["-i", f"file:{samples('cfr')}", "-c", "copy", "-f", "matroska", str(mkv)])
    first = upload(stack, samples("cfr"), "uploads/clip.mp4")
    assert stack.wait(first)["status"] == "SUCCEEDED"
    first_key = stack.json(contract.status_key(first))["output_key"]
    first_etag = stack.s3.head_object(Bucket=stack.bucket, Key=first_key)["ETag"]
    second = upload(stack, mkv, "uploads/clip.mkv")
    assert stack.wait(second)["status"] == "SUCCEEDED"
    second_key = stack.json(contract.status_key(second))["output_key"]
    assert first_key != second_key and first_key.startswith("outputs/clip-") and second_key.startswith("outputs/clip-")
    assert stack.s3.head_object(Bucket=stack.bucket, Key=first_key)["ETag"] == first_etag
    assert len([k for k in stack.keys("outputs/") if k.endswith(".mp4")]) == 2


# --- IAM: the template's policies, resolved, against the requests each role makes --------------------------


def policy_statements(stack: Stack, logical: str) -> list[dict]:
    """A function's or the state machine's statements, SAM policy templates expanded as SAM does."""
    props = stack.resolver(stack.resolver.template["Resources"][logical]["Properties"])
    region, account, sm = stack.region, "123456789012", stack.state_machine_arn
    statements = []
    for policy in props.get("Policies", []):
        if "Statement" in policy:
            statements += policy["Statement"]
        elif "StepFunctionsExecutionPolicy" in policy:
            name = policy["StepFunctionsExecutionPolicy"]["StateMachineName"]
            statements.append({"Effect": "Allow", "Action": "states:StartExecution",
                               "Resource": f"arn:aws:states:{region}:{account}:stateMachine:{name}"})  # fmt: skip
        elif "LambdaInvokePolicy" in policy:
            fn = policy["LambdaInvokePolicy"]["FunctionName"]
            statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction",
                               "Resource": [f"arn:aws:lambda:{region}:{account}:function:{fn}*"]})  # fmt: skip
    assert sm
    return statements


def allowed(statements: list[dict], action: str, resource: str, prefix: str | None = None) -> bool:
    def listed(value: str | list[str]) -> list[str]:
        return [value] if isinstance(value, str) else value

    for s in statements:
        if s["Effect"] != "Allow" or not any(fnmatch.fnmatchcase(action, a) for a in listed(s["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in listed(s["Resource"])):
            continue
        condition = s.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if condition is None or (prefix is not None and fnmatch.fnmatchcase(prefix, condition)):
            return True
    return False


def test_roles_reach_only_their_prefixes(make_stack) -> None:
    stack = make_stack(execute=False)
    obj = f"arn:aws:s3:::{stack.bucket}/{{}}"
    prepare = policy_statements(stack, "PrepareFunction")
    assert allowed(prepare, "s3:GetObject", obj.format("uploads/a.mp4"))
    assert allowed(prepare, "s3:PutObject", obj.format("work/j/items.json"))
    assert allowed(prepare, "s3:ListBucket", f"arn:aws:s3:::{stack.bucket}", prefix="work/j/")
    for denied in ("outputs/a.mp4", "work/j/x.json"):
        assert not allowed(prepare, "s3:GetObject", obj.format(denied)), denied
    # unconditioned: reading jobs/<job>.json before it exists answers 404 only with ListBucket on the bucket
    # (403 otherwise); tests/integration/test_least_privilege.py finds the request that needs it
    assert allowed(prepare, "s3:ListBucket", f"arn:aws:s3:::{stack.bucket}")
    machine = policy_statements(stack, "TranscodeStateMachine")
    assert allowed(machine, "s3:GetObject", obj.format("work/j/items.json"))
    assert not allowed(machine, "s3:GetObject", obj.format("uploads/a.mp4"))
    base = stack.state_machine_arn.replace(":stateMachine:", ":execution:")
    # Distributed Map child executions are execution:<machine>/<map run label>:<id> (AWS's IAM example for it)
    assert allowed(machine, "states:DescribeExecution", f"{base}/Segments:0d9a3c4e-1111-2222-3333-444455556666")
    assert allowed(machine, "states:StopExecution", f"{base}:movie-0123456789abcdef")
    assert not allowed(machine, "states:DescribeExecution", base.replace("splitstitch-transcode", "other"))
    for logical in ("EncodeSegmentFunction", "EncodeAudioFunction"):
        encode = policy_statements(stack, logical)
        assert allowed(encode, "s3:GetObject", obj.format("uploads/a.mp4"))
        assert not allowed(encode, "s3:GetObject", obj.format("jobs/j.json"))
        assert not allowed(encode, "s3:PutObject", obj.format("outputs/a.mp4"))


# --- Observability -----------------------------------------------------------------------------------------


def test_logs_carry_their_own_job_id(aws_env: None, samples, monkeypatch) -> None:
    """A warm prepare never logs the previous job's id; every line of an upload carries its own."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    with served_stack(FAST, execute=False) as stack:
        handler(stack, "PrepareFunction")  # its Logger exists now; its lines are formatted as Powertools does
        logger = logging.getLogger("splitstitch")
        lines: list[dict] = []

        class Grab(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                lines.append(json.loads(self.format(record)))

        grab = Grab()
        grab.setFormatter(logger.handlers[0].formatter)
        logger.addHandler(grab)
        try:
            jobs = [
                upload(stack, samples("cfr"), "uploads/first.mp4"),
                upload(stack, samples("vfr"), "uploads/second.mp4"),
            ]
        finally:
            logger.removeHandler(grab)
    handled = [line for line in lines if line.get("function_name", "").endswith("PrepareFunction")]
    assert [line["job"] for line in handled if line["message"] == "upload handled"] == jobs
    second = [line for line in handled if line.get("key") == "uploads/second.mp4"]
    assert second and all(line["job"] == jobs[1] for line in second)
    assert not any(line.get("job") == jobs[0] for line in handled if line.get("key") != "uploads/first.mp4")


def test_alarms_dashboard_log_retention_and_dead_letters(make_stack, samples) -> None:
    stack = make_stack()
    cw, logs, sqs = stack.client("cloudwatch"), stack.client("logs"), stack.client("sqs")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms()["MetricAlarms"]}
    assert {a["MetricName"] for a in alarms.values()} >= {
        "ExecutionsFailed",
        "Throttles",
        "Errors",
        "ApproximateNumberOfMessagesVisible",
    }
    (board,) = stack.extra["dashboards"]
    assert len(json.loads(cw.get_dashboard(DashboardName=board)["DashboardBody"])["widgets"]) >= 4
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups()["logGroups"]}
    for name in stack.functions.values():
        assert groups[f"/aws/lambda/{name}"] == 30
    described = stack.sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)
    assert described["loggingConfiguration"]["level"] == "ERROR"
    stack.faults.add("PrepareFunction", times=3)  # the first try and Lambda's two retries
    stack.s3.put_object(Bucket=stack.bucket, Key="uploads/lost.mp4", Body=samples("cfr").read_bytes())
    stack.settle()
    assert stack.invoker.count("PrepareFunction") == 3
    queue = stack.extra["queues"]["PrepareDeadLetterQueue"]
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "uploads%2Flost.mp4"


# --- Status, cost, events --------------------------------------------------------------------------------


def test_status_by_key_watches_until_the_end(make_stack, samples, capsys) -> None:
    stack = make_stack()
    upload(stack, samples("cfr"), "uploads/watched.mp4")
    argv = ["--bucket", stack.bucket, "--endpoint-url", stack.endpoint]
    assert main(["cloud", "status", "--key", "uploads/watched.mp4", "--watch", "--timeout", "60", *argv]) == 0
    out, _ = capsys.readouterr()  # the in-process handlers' JSON log lines and metrics print here too
    first = next(line for line in out.splitlines() if not line.startswith("{"))
    assert first.startswith("job watched-") and ": succeeded, stage done, attempt 1, 4/4 segments, " in first, out
    assert "output: outputs/watched-" in out
    assert main(["cloud", "status", "--key", "uploads/nothing.mp4", *argv]) == 1
    assert "uploads/nothing.mp4: no such upload" in capsys.readouterr().err


def test_status_of_a_failed_job_says_why(make_stack, samples, capsys) -> None:
    stack = make_stack(MaxSourceBytes=1000)
    job = upload(stack, samples("cfr"), "uploads/big.mp4")
    assert main(["cloud", "status", job, "--bucket", stack.bucket, "--endpoint-url", stack.endpoint]) == 1
    out = capsys.readouterr().out
    assert f"job {job}: failed, stage prepare" in out and "reason: uploads/big.mp4: file is " in out


def test_cost_counts_ephemeral_storage_polls_and_egress(make_stack, samples, tmp_path: Path) -> None:
    from splitstitch_cloud.run import run_job

    stack = make_stack()
    result = run_job(samples("cfr"), "unused", bucket=stack.bucket, endpoint_url=stack.endpoint,
                     output=tmp_path / "out.mp4", timeout=60)  # fmt: skip
    q = result["cost"]["quantities"]
    assert q["polls"] == result["polls"] > 0
    assert q["egress_gb"] == round((tmp_path / "out.mp4").stat().st_size / 1e9, 6)
    assert q["lambda_ephemeral_gb_s"] > 0  # encodes have 2 GB of /tmp, audio 4 GB: above the free 512 MB
    job_usd = result["status"]["cost"]["usd"]
    assert result["cost"]["usd"]["total"] > job_usd["total"] and result["cost_usd"] == result["cost"]["usd"]["total"]


def test_event_encode_prints_an_item_sam_local_invoke_can_run(make_stack, samples, capsys) -> None:
    """The recipe: `splitstitch cloud event encode --key K --segment N > e.json; sam local invoke
    EncodeSegmentFunction -e e.json` needs nothing in S3 but the upload (here the handler stands in for sam)."""
    stack = make_stack(execute=False)
    job = upload(stack, samples("cfr"), "uploads/one.mp4")
    planned = {i["task"]["segment"]["index"]: i for i in stack.json(contract.items_key(job))}
    for key in stack.keys("work/") + stack.keys("jobs/"):  # as after a finished job: only the upload is left
        stack.s3.delete_object(Bucket=stack.bucket, Key=key)
    capsys.readouterr()
    argv = ["--stack", "splitstitch", "--endpoint-url", stack.endpoint]  # the stack's outputs name the bucket
    assert main(["cloud", "event", "encode", "--key", "uploads/one.mp4", "--segment", "2", *argv]) == 0
    printed = capsys.readouterr().out  # in-process handlers' loggers also print here: the item is the indented JSON
    item, _ = json.JSONDecoder().raw_decode(printed[printed.index("{\n") :])
    assert item == planned[2]  # what the prepare function planned for the Map
    out = handler(stack, "EncodeSegmentFunction")(item, context(stack, "EncodeSegmentFunction"))
    assert out == {"index": 2, "frames": item["task"]["segment"]["end_frame"] - item["task"]["segment"]["start_frame"]}
    assert contract.work_key(job, "segments/00002.json") in stack.keys("work/")
    assert main(["cloud", "event", "encode", "--key", "uploads/one.mp4", "--segment", "9", *argv]) == 2
    assert "segment 9 does not exist" in capsys.readouterr().err


def test_decoded_output_of_a_local_job_matches(make_stack, samples, tmp_path: Path) -> None:
    stack = make_stack()
    job = upload(stack, samples("open_gop"), "uploads/open.mp4")
    assert stack.wait(job)["status"] == "SUCCEEDED"
    out = tmp_path / "o.mp4"
    stack.s3.download_file(stack.bucket, stack.json(contract.status_key(job))["output_key"], str(out))
    assert decoded_frames(out) == decoded_frames(samples("open_gop"))


def test_status_watch_right_after_a_reupload_waits_for_the_new_attempt(make_stack, samples, monkeypatch, capsys):
    """`cloud status --key K --watch` straight after an upload: no status yet is not an error, and an earlier
    attempt's failure is not this upload's end (it exited 1, or showed attempt 1)."""
    from tests.cloud.support import failing_encoder

    stack = make_stack()
    failing_encoder(monkeypatch, index=0, times=2)  # attempt 1 fails (1 + 1 retry)
    job = upload(stack, samples("cfr"), "uploads/again.mp4")
    assert stack.wait(job)["status"] == "FAILED"
    assert stack.json(contract.status_key(job))["state"] == "failed"
    argv = ["--bucket", stack.bucket, "--endpoint-url", stack.endpoint]
    time.sleep(1.1)  # S3's LastModified has one-second resolution: a re-upload in the second of the failure is
    # indistinguishable from before it by time (a known limit of `follow`'s staleness test)
    stack.s3.put_object(Bucket=stack.bucket, Key="uploads/again.mp4", Body=samples("cfr").read_bytes())  # no settle
    capsys.readouterr()
    assert main(["cloud", "status", "--key", "uploads/again.mp4", "--watch", "--timeout", "60", *argv]) == 0
    out = capsys.readouterr().out
    first = next(line for line in out.splitlines() if line.startswith("job "))
    assert ": succeeded, stage done, attempt 2, " in first, out
    stack.s3.put_object(Bucket=stack.bucket, Key="uploads/fresh.mp4", Body=samples("vfr").read_bytes())
    assert main(["cloud", "status", "--key", "uploads/fresh.mp4", "--watch", "--timeout", "60", *argv]) == 0
    assert ": succeeded, stage done, attempt 1, " in capsys.readouterr().out
