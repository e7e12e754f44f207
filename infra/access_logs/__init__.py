from infra.access_logs.bucket import AccessLogBucket

__all__ = ["AccessLogBucket"]
