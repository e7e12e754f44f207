"""The environment's ECS services (infra.services.services.Services).

Nothing is imported here on purpose: the post-deploy checks and the deployment hook import
``infra.services.deployment_hook.runtime.deployed_checks``, and an import of the CDK library
in this package would start jsii in every Verify action for nothing.
"""
