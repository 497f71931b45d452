"""What a run shows the world: its model card (Hub metadata, the text, the usage snippet)."""
