"""Figures in the forms people publish them: a model card's ``co2_eq_emissions`` block
(``model_card``), a methods paragraph in Markdown or LaTeX (``methods``) and the SCI per
functional unit (``sci``, with the embodied-emissions table in ``embodied``). ``publish.render``
is what ``jupyter-carbon report --model-card|--methods|--sci`` and ``%carbon export`` call;
``options`` parses the magic's words (light: imported when the magics load).
"""

__all__: list[str] = []
