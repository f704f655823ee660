"""ollm_tui: a full-screen terminal workspace for chatting with local GGUF models."""

__version__ = "0.1.0"
