"""What we know about the runtimes: EC2 instance types, Lambda limits and prices, and `--runtimes` parsing.

Sources: FACTS.md (us-east-1: Lambda x86 $0.0000166667 per GB-s, $0.20 per million requests, 1,769 MB =
1 vCPU, 6 vCPUs at 10,240 MB; Step Functions $0.025 per 1,000 transitions; S3 PUT $0.005 / GET $0.0004 per
1,000; t2.large ~$0.0928/h). Other EC2 prices and the burstable credit figures are AWS's public on-demand
price list and "CPU credits and baseline utilization" table (us-east-1, Linux), not checked from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitstitch.errors import UsageError

LAMBDA_GB_SECOND_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_MB_PER_VCPU = 1769
LAMBDA_MAX_VCPUS = 6.0
LAMBDA_MIN_MB, LAMBDA_MAX_MB = 128, 10240
LAMBDA_DEFAULT_MB = 3008  # the largest size when the talk was given
SFN_TRANSITION_USD = 0.025 / 1000
S3_PUT_USD = 0.005 / 1000
S3_GET_USD = 0.0004 / 1000


@dataclass(frozen=True)
class Burst:
    """A burstable type's CPU credits: one credit = one vCPU at 100% for one minute."""

    baseline_per_vcpu: float  # fraction of one vCPU each vCPU may use when out of credits
    earn_per_hour: float  # credits earned per hour
    initial: float  # launch credits (t2 standard mode); 0 for t3 (which runs "unlimited" by default)


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    usd_per_hour: float
    burst: Burst | None = None
    source: str = "AWS on-demand price list, us-east-1 Linux"


EC2_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("t2.large", 2, 0.0928, Burst(0.30, 36, 60), "FACTS.md price; AWS credit table"),
        InstanceType("t2.xlarge", 4, 0.1856, Burst(0.225, 54, 120)),
        InstanceType("t3.large", 2, 0.0832, Burst(0.30, 36, 0)),
        InstanceType("c7i.large", 2, 0.08925),
        InstanceType("c7i.xlarge", 4, 0.1785),
        InstanceType("c7i.2xlarge", 8, 0.357),
        InstanceType("c7i.4xlarge", 16, 0.714),
        InstanceType("c7g.xlarge", 4, 0.145),
        InstanceType("m7i.xlarge", 4, 0.2016),
    )
}


@dataclass(frozen=True)
class RuntimeSpec:
    kind: str  # laptop, local, ec2, lambda, aws
    arg: str = ""  # instance type, memory MB, or stack name

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def memory_mb(self) -> int:
        assert self.kind == "lambda"
        return int(self.arg)

    @property
    def instance(self) -> InstanceType:
        assert self.kind == "ec2"
        return EC2_TYPES[self.arg]


def lambda_vcpus(memory_mb: int) -> float:
    """CPU share of a Lambda: proportional to memory up to 1,769 MB = 1 vCPU; above that linear up to the
    documented 6 vCPUs at 10,240 MB (1,769 MB per vCPU would give only 5.79 there)."""
    if memory_mb <= LAMBDA_MB_PER_VCPU:
        return memory_mb / LAMBDA_MB_PER_VCPU
    extra = (memory_mb - LAMBDA_MB_PER_VCPU) / (LAMBDA_MAX_MB - LAMBDA_MB_PER_VCPU)
    return min(1.0 + extra * (LAMBDA_MAX_VCPUS - 1.0), LAMBDA_MAX_VCPUS)


def parse_runtimes(text: str) -> list[RuntimeSpec]:
    """`laptop,local,ec2:t2.large,lambda:1769,3008,aws:STACK` -> specs; bare numbers after a lambda sweep it."""
    specs: list[RuntimeSpec] = []
    previous = ""
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        kind, _, arg = raw.partition(":")
        if kind.isdigit() and previous == "lambda":
            kind, arg = "lambda", kind
        if kind in ("laptop", "local"):
            if arg:
                raise UsageError(f"--runtimes: {kind} takes no argument")
            spec = RuntimeSpec(kind)
        elif kind == "ec2":
            if arg not in EC2_TYPES:
                raise UsageError(f"--runtimes: unknown EC2 type {arg!r} (known: {', '.join(EC2_TYPES)})")
            spec = RuntimeSpec(kind, arg)
        elif kind == "lambda":
            arg = arg or str(LAMBDA_DEFAULT_MB)
            if not arg.isdigit() or not LAMBDA_MIN_MB <= int(arg) <= LAMBDA_MAX_MB:
                raise UsageError(f"--runtimes: Lambda memory {arg!r} must be {LAMBDA_MIN_MB}-{LAMBDA_MAX_MB} MB")
            spec = RuntimeSpec(kind, str(int(arg)))
        elif kind == "aws":
            if not arg:
                raise UsageError("--runtimes: aws needs a stack name (aws:STACK)")
            spec = RuntimeSpec(kind, arg)
        else:
            raise UsageError(f"--runtimes: unknown runtime {raw!r} (laptop, local, ec2:TYPE, lambda[:MB], aws:STACK)")
        previous = spec.kind
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise UsageError("--runtimes: give at least one runtime")
    return specs
