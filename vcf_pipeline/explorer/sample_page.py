"""The sample page: the sample's pedigree and files, what it carries by impact, and the family
questions asked of its family."""

from __future__ import annotations

from dataclasses import dataclass, field

from vcf_pipeline.explorer.pages import PageRefused
from vcf_pipeline.lib.samples.questions import QUESTIONS


@dataclass
class SampleView:
    sample: dict
    members: list = field(default_factory=list)
    question: str = ""
    answer: list[dict] = field(default_factory=list)
    per_trio: list[dict] = field(default_factory=list)
    questions: dict = field(default_factory=lambda: QUESTIONS)


def sample_view(app, name: str, question: str) -> SampleView:
    from vcf_pipeline.lib.query.sample_details import sample_details
    from vcf_pipeline.lib.stores.pedigrees import people

    sample = sample_details(app.graph, name, wait_s=2.0)
    if sample is None:
        raise LookupError(f"The store has no sample {name}.")
    view = SampleView(sample)
    if sample.get("family"):
        view.members = people(app.store, sample["family"])
    if question:
        if question not in QUESTIONS:
            raise PageRefused(f"question {question!r}: one of {', '.join(QUESTIONS)}")
        if not view.members:
            raise PageRefused(f"{name} has no family: load a PED file with vcf-pipeline samples load")
        from vcf_pipeline.lib.query.family_queries import ask_family
        from vcf_pipeline.lib.stores.variant_tables import CALLS

        answer = ask_family(question, view.members, app.variants(), app.store.open_table(CALLS), None)
        view.question, view.answer, view.per_trio = question, answer.rows.to_pylist(), answer.per_trio
    return view
