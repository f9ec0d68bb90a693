"""splitstitch on AWS: S3 storage, job status, cost model and the `splitstitch cloud` CLI.

The only package of the project that imports boto3; the Lambda handlers in functions/ are thin wrappers
around `splitstitch_cloud.steps`, which calls the core exactly as `splitstitch.pipeline.transcode` does.
"""
