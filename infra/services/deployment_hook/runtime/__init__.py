"""The deployment hook's Lambda asset: this folder is the function's code: the standard library,
and boto3 (Lambda's Python runtime has it) for the check user's sign-in only."""
