from infra.access_logs.bucket import AccessLogBucket, log_sink_bucket

__all__ = ["AccessLogBucket", "log_sink_bucket"]
