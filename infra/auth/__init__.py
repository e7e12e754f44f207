"""Sign-in: the environment's Cognito user pool, its domain and app clients."""
