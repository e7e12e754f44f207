"""Checks of a deployed API, in plain Python: the post-deploy tests (tests/deployed) and the
blue/green deployment hook run these same functions, one against the site's public URL, the
other against the new tasks through the load balancer's test route."""
