"""Evaluation: compare methods per hole-ratio bucket and write a report."""
from .evaluate import evaluate
from .methods import ModelMethod, TeleaMethod
from .report import markdown_table, write_results

__all__ = ["evaluate", "ModelMethod", "TeleaMethod", "markdown_table", "write_results"]
