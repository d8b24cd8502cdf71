"""Metrics shared by validation and evaluate.py."""
from .fid import FID, FeatureStatistics, frechet_distance
from .inception import InceptionFeatures, find_inception_weights

__all__ = ["FID", "FeatureStatistics", "frechet_distance", "InceptionFeatures", "find_inception_weights"]
