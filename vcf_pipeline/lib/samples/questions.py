"""The family questions by name, with what each asks (kept free of Arrow: `--help` lists them)."""

QUESTIONS = {
    "de-novo": "variants a child carries that both parents were called hom-ref for",
    "autosomal-recessive": "variants every affected member is hom-alt for, no unaffected one is, unaffected parents het",
    "autosomal-dominant": "variants every affected member carries and every unaffected one is hom-ref for",
    "compound-het": "pairs of het variants in one gene of an affected child, one from each parent",
    "x-linked": "chrX variants fitting X-linked recessive inheritance",
    "mendel-errors": "sites where a child's genotype cannot come from its parents' (autosomes)",
}
