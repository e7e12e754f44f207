"""The local stack behind ``make dev``: moto's SNS and SQS (the event topology), every
service of the registry and the web app on one origin. Development and tests only; never
in an image."""
