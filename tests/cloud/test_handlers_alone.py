"""A handler called directly, outside Lambda and without the template's environment: no POWERTOOLS_* variable
is needed (Metrics refused to flush without a namespace: "Must contain a metric namespace")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from splitstitch_cloud.local.template import load_template
from splitstitch_cloud.observability import DEFAULTS
from tests.cloud.support import ROOT

CALL = """
import json, sys
from types import SimpleNamespace
sys.path.insert(0, "functions/record_failure")
import app
app.S3Store.from_env = staticmethod(lambda: None)
app.record_failure = lambda store, job, error: {"job": job, "state": "failed", "reason": error["Cause"]}
context = SimpleNamespace(function_name="f", memory_limit_in_mb=128, aws_request_id="r",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")
print(json.dumps(app.lambda_handler({"job": "j", "error": {"Error": "E", "Cause": "why"}}, context)))
"""


def test_a_handler_called_directly_needs_no_powertools_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    done = subprocess.run([sys.executable, "-c", CALL], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"job": "j", "state": "failed", "reason": "why"}


def test_the_defaults_are_the_templates() -> None:
    template = load_template(ROOT / "template.yaml")
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables[name] for name in DEFAULTS} == DEFAULTS
