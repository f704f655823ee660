"""engine/llama."""
