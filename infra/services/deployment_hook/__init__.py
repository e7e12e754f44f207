"""The blue/green deployment hook: the API's deployed checks against the new tasks."""
