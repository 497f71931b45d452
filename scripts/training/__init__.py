"""Training: the recipe (every auto decision with its reason), the fit, several processes."""
