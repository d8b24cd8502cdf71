"""Semantic latent editing: a scenes attribute classifier (the descriptor F) and InterFaceGAN-style
linear attribute directions in W / W+ (`fit_directions`, `LatentDirections.edit`)."""
from .attributes import MIN_FRACTION, SCENE_ATTRIBUTES, attribute_labels
from .classifier import SceneAttributeClassifier, load_attribute_classifier, load_descriptor, save_attribute_classifier

__all__ = ["SCENE_ATTRIBUTES", "MIN_FRACTION", "attribute_labels", "SceneAttributeClassifier",
           "load_attribute_classifier", "save_attribute_classifier", "load_descriptor"]
from .directions import BUNDLED_DIRECTIONS, LatentDirections, fit_directions

__all__ += ["LatentDirections", "fit_directions", "BUNDLED_DIRECTIONS"]
