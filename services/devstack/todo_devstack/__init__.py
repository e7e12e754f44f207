"""The local stack behind ``make dev``: moto's SQS, the API (+ relay), the worker
and the web app on one origin. Development and tests only; never in an image."""
