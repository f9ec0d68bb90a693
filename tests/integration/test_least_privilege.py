"""Least privilege that works on AWS, checked where moto enforces no IAM: every S3 request each function makes in
whole jobs (a file and a streaming package; a success, a failure and the attempt after it) is recorded under the
role that signed it, and must be allowed by that function's policy in template.yaml; and every S3 grant of
every policy must be used by some request (or be a named failure path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from splitstitch_cloud import contract
from tests.cloud.conftest import FAST
from tests.cloud.iam import Grant, Need, Recorder, s3_grants
from tests.cloud.support import Stack, served_stack, upload

# Grants that only a fault exercises, by (function, action, resource suffix): each names the path that needs it.
FAILURE_PATHS = {
    ("FinishFunction", "s3:AbortMultipartUpload", "outputs/*"): "storage aborts a multipart upload that failed",
    ("FinishFunction", "s3:DeleteObject", "outputs/*"): "finish removes a streaming package that failed verification",
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Recorder]]:
    from splitstitch.samples import make_sample
    from splitstitch.samples_broken import make_broken

    folder = tmp_path_factory.mktemp("iam")
    clip = make_sample("cfr", folder, 3.0, name="clip")
    restarting, _ = make_broken("restart_mkv_h264", folder)  # rebuilt on one timeline in work/
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MOTO_PORT"):
            mp.delenv(key, raising=False)
        with served_stack(FAST, isolation="process", cpu_limits=False) as stack:
            recorder = Recorder(stack.bucket)
            stack.extra["observed"].before.append(recorder.before)
            stack.extra["observed"].hooks.append(recorder.after)
            settings = '{"segment_seconds": 1}'
            job = upload(stack, clip, "uploads/file.mp4", settings)
            assert stack.wait(job, timeout=180)["status"] == "SUCCEEDED", stack.history(job)
            streaming = '{"segment_seconds": 1, "streaming": "cmaf", "ladder": "240"}'
            job = upload(stack, clip, "uploads/package.mp4", streaming)
            assert stack.wait(job, timeout=180)["status"] == "SUCCEEDED", stack.history(job)
            job = upload(stack, restarting, "uploads/restarting.mkv", settings)
            assert stack.wait(job, timeout=180)["status"] == "SUCCEEDED", stack.history(job)
            replaced = []

            def replace_source(spec, event):  # a real failure inside the encoder: its source went bad mid-job
                if spec.logical == "EncodeSegmentFunction" and not replaced:
                    replaced.append(event)
                    stack.s3.put_object(Bucket=stack.bucket, Key="uploads/failing.mp4", Body=b"\0" * 4096)
                return None

            stack.invoker.hooks.insert(0, replace_source)
            meta = {contract.SETTINGS_METADATA: settings}
            stack.s3.put_object(Bucket=stack.bucket, Key="uploads/failing.mp4", Body=clip.read_bytes(), Metadata=meta)
            job = contract.job_of_head(
                "uploads/failing.mp4", stack.s3.head_object(Bucket=stack.bucket, Key="uploads/failing.mp4")
            )
            stack.settle()
            assert stack.wait(job, timeout=180)["status"] == "FAILED"
            stack.settle()  # the EventBridge target (RecordFailure) and the replacement's own upload event
            assert stack.json(contract.status_key(job))["state"] == "failed"
            stack.invoker.hooks.remove(replace_source)
            again = upload(stack, clip, "uploads/failing.mp4", settings)  # attempt 2 of the same job
            assert stack.wait(contract.execution_name(again, 2), timeout=180)["status"] == "SUCCEEDED"
            yield stack, recorder


def _grants(stack: Stack) -> dict[str, list[Grant]]:
    return {spec.logical: s3_grants(spec.properties.get("Policies", [])) for spec in stack.specs.values()}


@pytest.mark.slow
def test_every_s3_request_is_allowed_by_its_functions_policy(recorded) -> None:
    stack, recorder = recorded
    grants = _grants(stack)
    assert set(recorder.calls) >= {
        "PrepareFunction",
        "EncodeSegmentFunction",
        "EncodeAudioFunction",
        "FinishFunction",
        "RecordFailureFunction",
    }, sorted(recorder.calls)
    denied = sorted(
        {
            f"{fn}: {n.action} {n.resource}" + (f" (s3:prefix {n.prefix})" if n.prefix else "") + f" [{n.why}]"
            for fn, calls in recorder.calls.items()
            for n in calls
            if not any(g.covers(n) for g in grants[fn])
        }
    )
    assert denied == [], "AWS would refuse:\n" + "\n".join(denied)


@pytest.mark.slow
def test_no_s3_grant_goes_unused(recorded) -> None:
    stack, recorder = recorded
    unused = {
        (fn, g.action, g.resources[0].split("/", 1)[-1]): f"{fn}: statement {g.statement} {g.action} on {g.resources}"
        for fn, grants in _grants(stack).items()
        for g in grants
        if not any(g.covers(n) for n in recorder.calls.get(fn, []))
    }
    unexplained = sorted(text for key, text in unused.items() if key not in FAILURE_PATHS)
    assert unexplained == [], "granted, never used:\n" + "\n".join(unexplained)


def test_the_recorder_sees_what_aws_would_check() -> None:
    """The mapping itself, on requests whose IAM actions AWS documents."""
    from tests.cloud.iam import UNCONDITIONED, needs

    arn = "arn:aws:s3:::b"
    assert needs("GET", "/b/jobs/x.json", "", {}, 404) == [
        Need("s3:GetObject", f"{arn}/jobs/x.json", None, "GET /b/jobs/x.json"),
        Need("s3:ListBucket", arn, UNCONDITIONED, "GET /b/jobs/x.json answered 404"),
    ]
    assert needs("HEAD", "/b/uploads/a.mp4", "versionId=3", {}, 200)[0].action == "s3:GetObjectVersion"
    assert needs("GET", "/b", "list-type=2&prefix=work%2Fj%2F", {}, 200) == [
        Need("s3:ListBucket", arn, "work/j/", "GET /b/")
    ]
    copy = needs("PUT", "/b/outputs/p/v.m4s", "", {"x-amz-copy-source": "/b/work/j/s.m4s"}, 200)
    assert [n.action for n in copy] == ["s3:PutObject", "s3:GetObject"] and copy[1].resource == f"{arn}/work/j/s.m4s"
    assert needs("DELETE", "/b/outputs/o.mp4", "uploadId=u", {}, 204)[0].action == "s3:AbortMultipartUpload"
    body = b"<Delete><Object><Key>work/j/a</Key></Object><Object><Key>work/j/b</Key></Object></Delete>"
    assert [n.resource for n in needs("POST", "/b", "delete=", {}, 200, body)] == [f"{arn}/work/j/a", f"{arn}/work/j/b"]
    prefixed = Grant(1, "s3:ListBucket", (arn,), ("work/*",))
    assert prefixed.covers(Need("s3:ListBucket", arn, "work/j/")) and not prefixed.covers(
        Need("s3:ListBucket", arn, UNCONDITIONED)
    )
    assert all(isinstance(why, str) and why for why in FAILURE_PATHS.values())  # named reasons only
