"""This organisation's checkov checks, loaded by every run through `policies.gate`.

checkov imports each `.py` file here as a standalone module (and needs this `__init__.py` to do
so) and reads each `.yaml` file as a graph policy. Ids are `CKV_TODO_<n>`.
"""
