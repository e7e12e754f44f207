"""This organisation's checks, loaded by every run through `policies.gate`.

checkov imports each `.py` file here as a standalone module (and needs this `__init__.py` to do
so) and reads each `.yaml` file as a graph policy. Ids are `CKV_TODO_<n>`.

`grants/` holds the service-grant checks (CKV_TODO_8 and up): they judge relations across
resources and stacks (a log group and the key another stack owns, an alarm and the topic it
names by ARN), which checkov's per-resource and per-file checks cannot see. The gate runs them
in its own process. That directory has no `__init__.py` on purpose: checkov then skips it
instead of importing modules that are not checkov checks.
"""
