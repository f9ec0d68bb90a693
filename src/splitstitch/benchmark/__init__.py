"""`splitstitch bench`: measure the local runtimes and model EC2 and Lambda from the same measurements.

Modules: catalog (instance types, prices, `--runtimes` parsing), model (pure scheduling and CPU-credit
models), cost, procs (the one place that pins processes to CPUs), measure (runs things), talk (the
reference workload), report (table, JSON, charts), runner (ties them together), cli.
"""
