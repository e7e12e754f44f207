"""The deployment hook's Lambda asset: this folder is the function's code, stdlib only."""
