"""The Todo queue worker: records each domain event from SQS as an activity row."""

__version__ = "0.1.0"
