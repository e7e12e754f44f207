"""HTTP routes: ``/api/todos`` and the health probes."""
