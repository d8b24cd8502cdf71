"""Multi-modal guided encoder of MMInvertFill: gated backbone, ACB bottleneck, mutual decoder, GMA, heads."""
from .acb import ACBBlock, AOTBlock, Bottleneck, ResBlock
from .backbone import DownBackbone
from .decoder import MultiModalDecoder, UpStage
from .fusion import ADN, AdaINFusion, AddFusion, ConvFusion, NoFusion, SPADEFusion, build_fusion
from .gated_conv import GatedConv2d
from .gma import GatedFeedForward, GMABlock
from .heads import MultiModalHead
from .mge import LEGACY_DEFAULTS, MODALITIES, MultiModalGuidedEncoder, encoder_input, one_hot_seg
from .patch_attention import GATES, MaskGatedPatchAttention
from .self_attention import SelfAttention2d

__all__ = [
    "ACBBlock", "AOTBlock", "ResBlock", "Bottleneck", "DownBackbone", "MultiModalDecoder", "UpStage", "ADN",
    "AdaINFusion", "AddFusion", "ConvFusion", "NoFusion", "SPADEFusion", "build_fusion", "GatedConv2d",
    "GatedFeedForward", "GMABlock", "MultiModalHead", "MultiModalGuidedEncoder", "encoder_input", "one_hot_seg",
    "MaskGatedPatchAttention", "SelfAttention2d", "GATES", "MODALITIES", "LEGACY_DEFAULTS",
]
