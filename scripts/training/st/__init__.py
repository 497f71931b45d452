"""The Simple Transformers adapter: the only package that imports simpletransformers."""
