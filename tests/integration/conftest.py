from tests.cloud.conftest import TEST_SETTINGS, aws_env, lambda_context, running_stack, stack  # noqa: F401
