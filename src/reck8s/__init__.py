"""Render, check and run the recommendation system's Kubernetes configuration."""

__version__ = "0.1.0"
