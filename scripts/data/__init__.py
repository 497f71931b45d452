"""A file or a dataset -> clean frames of text and labels -> splits -> the balanced training split."""
