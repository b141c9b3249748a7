"""SQL models on the loaded warehouse: staging, typed custom fields, tags, links, marts."""

from insightly.models.build import ModelReport, build, build_models

__all__ = ["ModelReport", "build", "build_models"]
