"""Metrics shared by validation and evaluate.py: FID, P-IDS/U-IDS, LPIPS, SSIM, PSNR, L1 in the hole,
mIoU, diversity; the edit-consistency score of inversions (ECS)."""
from .diversity import OFFLINE_FALLBACK, diversity_distance, diversity_lpips, hole_l1_diversity, pairwise_diversity
from .ecs import edit_consistency_score, edit_cycle
from .fid import FID, FeatureStatistics, frechet_distance
from .image_quality import known_gap, l1_hole, psnr, ssim
from .inception import InceptionFeatures, find_inception_weights
from .lpips_metric import LPIPSMetric
from .miou import ConfusionMatrix
from .pids import IDS
from .suite import AVAILABLE_METRICS, InpaintingMetrics

__all__ = ["FID", "FeatureStatistics", "frechet_distance", "InceptionFeatures", "find_inception_weights", "psnr",
           "ssim", "l1_hole", "known_gap", "LPIPSMetric", "ConfusionMatrix", "IDS", "InpaintingMetrics", "AVAILABLE_METRICS",
           "diversity_lpips", "pairwise_diversity", "hole_l1_diversity", "diversity_distance", "OFFLINE_FALLBACK",
           "edit_consistency_score", "edit_cycle"]
