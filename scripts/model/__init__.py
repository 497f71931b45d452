"""The saved model: architectures, the plain-transformers predictor, how long texts are cut."""
