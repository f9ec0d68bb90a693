"""What the bench knows that is not in the template or in `splitstitch_cloud.cost`: EC2 instance types,
MediaConvert's price per output minute, the network and service assumptions (each with where it comes
from), and `--runtimes` parsing. Lambda, Step Functions and S3 prices live only in `splitstitch_cloud.cost`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from splitstitch.errors import UsageError

LAMBDA_MIN_MB, LAMBDA_MAX_MB = 128, 10240
MB_PER_VCPU = 1769  # AWS Lambda docs: 1,769 MB = one vCPU; linear in memory
LAMBDA_MAX_VCPUS = 6.0  # AWS Lambda docs: up to 6 vCPUs at 10,240 MB

MEDIACONVERT_PER_MIN = {"basic": 0.015, "professional": 0.024}
MEDIACONVERT_SOURCE = "AWS Elemental MediaConvert price list, HD AVC per output minute, us-east-1 (FACTS.md)"


@dataclass(frozen=True)
class Burst:
    """A burstable type's CPU credits: one credit = one vCPU at 100% for one minute."""

    baseline_per_vcpu: float  # share of one vCPU each vCPU may use once the credits are spent
    earn_per_hour: float
    launch: float  # launch credits (t2 standard mode)
    maximum: float  # a full balance (24 h of earnings)


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    usd_per_hour: float
    burst: Burst | None = None
    source: str = "AWS EC2 on-demand price list, us-east-1 Linux; credits from AWS's burstable credit table"


EC2_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("t2.large", 2, 0.0928, Burst(0.30, 36, 60, 864)),
        InstanceType("t3.large", 2, 0.0832, Burst(0.30, 36, 0, 864)),
        InstanceType("c7i.large", 2, 0.08925),
        InstanceType("c7i.xlarge", 4, 0.1785),
    )
}
EC2_MINIMUM_S = 60.0  # per-second billing, 60 s minimum per start (FACTS.md)


@dataclass(frozen=True)
class Network:
    """Modeled service and network figures; `SOURCES` says where each comes from (docs/bench.md cites them)."""

    s3_stream_mb_s: float = 90.0  # one S3 GET/PUT stream
    lambda_cap_mb_s: float = 300.0  # all streams of one Lambda together
    cold_start_s: float = 1.0  # Python runtime + layers init, once per concurrent Lambda
    transition_s: float = 0.1  # per Step Functions state entered
    child_start_per_s: float = 300.0  # Distributed Map child executions started per second
    lambda_burst: int = 1000  # concurrent Lambdas available at once, then +1,000 per 10 s
    lambda_burst_per_10s: int = 1000
    s3_request_s: float = 0.03  # first-byte latency of one S3 request
    overlap_io: bool = False  # encoder reads overlap its decoding (optimistic) or add to it (pessimistic)
    core_speed: float = 1.0  # a Lambda x86 vCPU against one core of this machine: CPU seconds / core_speed
    s3_event_s: float = 0.0  # upload complete -> the prepare function invoked (S3 event delivery)
    map_overhead_s: float = 0.0  # Distributed Map run start + completion beyond its children (half each)
    account_concurrency: int = 1000  # the account's Lambda concurrency quota (caps the Map with the template's)
    arm64_speed: float = 1.0  # an arm64 (Graviton) vCPU against an x86 Lambda vCPU, on this encode (calibrate)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SOURCES = {
    "s3_stream_mb_s": "issue 8 bound: S3 at <= 90 MB/s per stream (AWS S3 performance guide: scale by parallel "
    "connections); pessimistic half of it",
    "lambda_cap_mb_s": "assumed: AWS documents no Lambda network bandwidth; users measure about 100 MB/s (small "
    "functions) to about 300 MB/s per function from S3 (issue 18): 300 / 150 / 100",
    "cold_start_s": "assumed, not measured on AWS: Python 3.12 + a ~221 MB ffmpeg layer; INIT of Python functions "
    "with large layers is commonly 1-3 s (AWS Lambda docs: init is billed and reported as Init Duration): "
    "1 / 2 / 4 s; `bench calibrate` (issue 18 item 8) is to measure it",
    "transition_s": "issue 8 bound: >= 0.1 s per state transition",
    "child_start_per_s": "assumed from the Step Functions quotas page: StartExecution (Standard) refills at 300/s in "
    "us-east-1; AWS documents no separate start-up latency for Distributed Map children",
    "lambda_burst": "AWS Lambda scaling: each function scales by 1,000 concurrent executions every 10 s",
    "s3_request_s": "assumed: S3 first-byte latency of tens of ms (AWS S3 performance guide: 100-200 ms tail)",
    "overlap_io": "an encoder's ranged reads overlap its decoding (ffmpeg reads ahead 4 MiB requests) or add to it",
    "core_speed": "assumed, not measured on AWS: a Lambda x86 vCPU against one core of the bench machine; it "
    "divides every CPU second (1.15 / 0.9 / 0.8)",
    "s3_event_s": "AWS S3 docs: event notifications are typically delivered in seconds, sometimes a minute or "
    "longer: 0.2 / 1 / 10 s (the minute-long tail is left out of every case)",
    "map_overhead_s": "a user measured about 7 s from MapRunStarted to MapRunSucceeded for 100 no-op children "
    "(AWS re:Post, FACTS.md); AWS documents none: 0 / 7 / 14 s",
    "account_concurrency": "AWS Lambda quotas: 1,000 concurrent executions by default; new accounts can start far "
    "lower (users report throttling at 10, FACTS.md): the `lambda:new-account` row uses 10",
    "arm64_speed": "assumed 1.0 until calibrated: no measurement of this encode on Graviton; only used when the "
    "template's Architecture is arm64",
}

CASES = {
    "optimistic": Network(lambda_cap_mb_s=300.0, cold_start_s=1.0, overlap_io=True, core_speed=1.15,
                          s3_event_s=0.2, map_overhead_s=0.0),
    "middle": Network(lambda_cap_mb_s=150.0, cold_start_s=2.0, overlap_io=True, core_speed=0.9, s3_event_s=1.0,
                      map_overhead_s=7.0),
    "pessimistic": Network(s3_stream_mb_s=45.0, lambda_cap_mb_s=100.0, cold_start_s=4.0, transition_s=0.25,
                           child_start_per_s=100.0, s3_request_s=0.2, overlap_io=False, core_speed=0.8,
                           s3_event_s=10.0, map_overhead_s=14.0),
}  # fmt: skip
HEADLINE = "middle"
NEW_ACCOUNT_CONCURRENCY = 10  # the `lambda:new-account` row (FACTS.md: users report throttling at 10)
# x264 CPU time of each preset against medium: a stated prior (x264's own preset ladder, roughly halving or
# doubling per two steps), used only when the template's Preset is not the preset measured; calibrate it
PRESET_CPU = {"ultrafast": 0.2, "superfast": 0.3, "veryfast": 0.45, "faster": 0.65, "fast": 0.8, "medium": 1.0,
              "slow": 1.5, "slower": 2.5, "veryslow": 5.0, "placebo": 15.0}  # fmt: skip
BAND = CASES  # the three cases, optimistic .. pessimistic; `HEADLINE` is the one every figure quotes


def preset_factor(deployed: str, measured: str) -> float:
    """Encode CPU of the template's preset over that of the preset measured (1.0 for one unknown to the prior)."""
    if deployed == measured or deployed not in PRESET_CPU or measured not in PRESET_CPU:
        return 1.0
    return PRESET_CPU[deployed] / PRESET_CPU[measured]


def set_assumption(net: Network, name: str, text: str) -> Network:
    """`--set NAME=VALUE`: one assumption of `net` replaced, typed as its field."""
    fields = net.to_dict()
    if name not in fields:
        raise UsageError(f"--set: unknown assumption {name!r} (known: {', '.join(fields)})")
    kind = type(fields[name])
    try:
        value: Any = (
            text.lower() in ("1", "true", "yes") if kind is bool else kind(float(text) if kind is int else text)
        )
    except ValueError:
        raise UsageError(f"--set {name}={text}: not a {kind.__name__}") from None
    return replace(net, **{name: value})


def lambda_vcpus(memory_mb: int) -> float:
    return min(memory_mb / MB_PER_VCPU, LAMBDA_MAX_VCPUS)


@dataclass(frozen=True)
class RuntimeSpec:
    kind: str  # laptop, local, ec2, lambda, aws
    arg: str = ""  # instance type, encode memory MB ("" = as deployed), or a deployed stack's name

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def instance(self) -> InstanceType:
        return EC2_TYPES[self.arg]


def parse_runtimes(text: str) -> list[RuntimeSpec]:
    """`laptop,local,ec2:t2.large,lambda,lambda:3008,aws:STACK` -> specs (`lambda` = the template's memory sizes;
    `aws:STACK` = a deployed stack, timed from upload to downloaded output)."""
    specs: list[RuntimeSpec] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        kind, _, arg = raw.partition(":")
        if kind in ("laptop", "local") and not arg:
            spec = RuntimeSpec(kind)
        elif kind == "ec2":
            if arg not in EC2_TYPES:
                raise UsageError(f"--runtimes: unknown EC2 type {arg!r} (known: {', '.join(EC2_TYPES)})")
            spec = RuntimeSpec(kind, arg)
        elif kind == "lambda" and arg == "new-account":
            spec = RuntimeSpec(kind, arg)
        elif kind == "lambda":
            if arg and (not arg.isdigit() or not LAMBDA_MIN_MB <= int(arg) <= LAMBDA_MAX_MB):
                raise UsageError(f"--runtimes: Lambda memory {arg!r} must be {LAMBDA_MIN_MB}-{LAMBDA_MAX_MB} MB")
            spec = RuntimeSpec(kind, str(int(arg)) if arg else "")
        elif kind == "aws" and arg:
            spec = RuntimeSpec(kind, arg)
        else:
            raise UsageError(f"--runtimes: unknown runtime {raw!r} (laptop, local, ec2:TYPE, lambda[:MB], aws:STACK)")
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise UsageError("--runtimes: give at least one runtime")
    return specs


def with_overrides(net: Network, **changes: Any) -> Network:
    return replace(net, **{k: v for k, v in changes.items() if v is not None})
