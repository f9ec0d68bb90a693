"""Powertools' Logger, Tracer and Metrics for a handler, with the template's defaults.

The template sets POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE in its Globals; a handler called
directly (a test, a notebook, `python -c`) has neither, and Metrics would then refuse to flush ("Must contain a
metric namespace"). The same values are the defaults here, so the environment still wins."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

DEFAULTS = {"POWERTOOLS_SERVICE_NAME": "splitstitch", "POWERTOOLS_METRICS_NAMESPACE": "Splitstitch"}


def powertools() -> tuple[Logger, Tracer, Metrics]:
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    return Logger(), Tracer(), Metrics()
