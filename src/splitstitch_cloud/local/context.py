"""The parts of Lambda's context object the handlers and Powertools use, with a real deadline."""

from __future__ import annotations

import time
import uuid


class LocalContext:
    def __init__(self, name: str, memory_mb: int, timeout_s: float, region: str, account: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
