"""Published per-1,000-items figures to set a measurement beside, each with its source.

* Power Hungry Processing, Table 2 (``jupyter_carbon.reference``): mean kWh per 1,000
  inferences per task, whole node (CPU, GPU, RAM) measured with CodeCarbon on 8x A100.
* AI Energy Score (Hugging Face, Salesforce, Cohere, CMU; leaderboard v0, February 2025): GPU
  energy only, per 1,000 queries, one NVIDIA H100, batch size 1. Only its text-classification
  rows are bundled (the ones this project could read, see ``data/NOTICE.md``); other tasks
  say "not available".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AI_ENERGY_SCORE_SOURCE",
    "AI_ENERGY_SCORE_KWH_PER_1000",
    "AiEnergyScoreRange",
    "ai_energy_score_range",
]

AI_ENERGY_SCORE_SOURCE = (
    "AI Energy Score leaderboard v0 (Luccioni, Gamazaychikov et al., 2025), text_classification "
    "results: GPU energy per 1,000 queries on one NVIDIA H100, batch size 1; data file "
    "https://huggingface.co/spaces/bgamazay/Leaderboard_test/blob/"
    "6427bd79d751e2380086a0a506c87ce5652da25d/data/text_classification.csv; "
    "https://huggingface.github.io/AIEnergyScore"
)

#: task → {model: GPU kWh per 1,000 queries} (the data file's ``total_gpu_energy``, measured
#: 2024-09-04)
AI_ENERGY_SCORE_KWH_PER_1000: dict[str, dict[str, float]] = {
    "text-classification": {
        "nlptown/bert-base-multilingual-uncased-sentiment": 0.000356581340820838,
        "bhadresh-savani/electra-base-emotion": 0.000252136868375885,
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english": 0.000217735979745015,
        "michelecafagna26/gpt2-medium-finetuned-sst2-sentiment": 0.000801512141209138,
        "lxyuan/distilbert-base-multilingual-cased-sentiments-student": 0.000221416899353954,
        "mnoukhov/gpt2-imdb-sentiment-classifier": 0.00031876844945895,
        "lvwerra/distilbert-imdb": 0.000216021922817511,
        "Cheng98/bert-large-sst2": 0.000918014262188649,
    },
}


@dataclass(frozen=True)
class AiEnergyScoreRange:
    """The range of the bundled models of one task. Units: kWh of GPU energy per 1,000 queries."""

    task: str
    models: int
    low_kwh: float
    high_kwh: float
    low_model: str
    high_model: str


def ai_energy_score_range(task: str) -> AiEnergyScoreRange | None:
    """The bundled range for ``task`` (a canonical task name), or None when none is bundled."""
    rows = AI_ENERGY_SCORE_KWH_PER_1000.get(task)
    if not rows:
        return None
    low = min(rows, key=rows.__getitem__)
    high = max(rows, key=rows.__getitem__)
    return AiEnergyScoreRange(task, len(rows), rows[low], rows[high], low, high)
