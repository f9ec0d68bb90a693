"""Test handler: {"sleep": s} sleeps, {"fill_mb": n} writes n MB to /tmp, else reports its environment."""

import os
import tempfile
import time
from pathlib import Path

from splitstitch_cloud import usage


def lambda_handler(event: dict, context: object) -> dict:
    init_s = usage.init_seconds()
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "fill_mb" in event:
        with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as f:
            for _ in range(event["fill_mb"]):
                f.write(b"\0" * (1 << 20))
                f.flush()
    group = next((line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                  if line.split(":")[1] in ("cpu", "cpu,cpuacct", "cpuacct,cpu")), "")  # fmt: skip
    return {"init_s": init_s, "pid": os.getpid(), "cgroup": group, "tmp": tempfile.gettempdir(),
            "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME")}  # fmt: skip
