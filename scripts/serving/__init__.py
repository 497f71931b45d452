"""make serve: the model behind an HTTP endpoint (LitServe), its requests' limits and the load test."""
