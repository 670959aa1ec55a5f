"""Samples as the graph knows them: pedigree properties, files, variants carried (for `samples list`,
`samples show` and the explorer's sample page). Names are bound as parameters."""

from __future__ import annotations


def list_samples(graph, family: str | None = None, wait_s: float = 30.0) -> list[dict]:
    """Every sample (of one family), with its pedigree, files and variants carried."""
    if not graph.path.exists():
        return []
    where, params = ("WHERE s.family = $family", {"family": family}) if family else ("", {})
    return _samples(graph, where, params, wait_s)


def sample_details(graph, name: str, wait_s: float = 30.0) -> dict | None:
    """One sample with its children, files and the variants it carries by impact; None if unknown."""
    if not graph.path.exists():
        return None
    found = _samples(graph, "WHERE s.name = $name", {"name": name}, wait_s)
    if not found:
        return None
    sample, bound = found[0], {"name": name}
    query = lambda cypher: graph.query(cypher, bound, wait_s=wait_s)  # noqa: E731
    sample["children"] = query("MATCH (:Sample {name: $name})-[:PARENT_OF]->(c:Sample) RETURN c.name AS child ORDER BY child")["child"].to_pylist()
    sample["files"] = query("MATCH (:Sample {name: $name})-[:CALLED_IN]->(f:VcfFile) RETURN f.partition_key AS file ORDER BY file")["file"].to_pylist()
    by_impact = query(
        "MATCH (:Sample {name: $name})-[:CARRIES]->(v:Variant) OPTIONAL MATCH (v)-[g:IN_GENE]->(:Gene) "
        "RETURN coalesce(g.impact, 'none') AS impact, count(DISTINCT v) AS variants ORDER BY variants DESC"
    )
    sample["variants_by_impact"] = dict(zip(by_impact["impact"].to_pylist(), by_impact["variants"].to_pylist()))
    return sample


def _samples(graph, where: str, params: dict, wait_s: float) -> list[dict]:
    result = graph.query(
        f"MATCH (s:Sample) {where} "
        "OPTIONAL MATCH (s)-[:CALLED_IN]->(f:VcfFile) WITH s, count(f) AS files "
        "RETURN s.name AS name, s.family AS family, s.father AS father, s.mother AS mother, s.sex AS sex, s.phenotype AS phenotype, "
        "files, COUNT { MATCH (s)-[:CARRIES]->(:Variant) } AS carried ORDER BY family, name",
        params, wait_s=wait_s,
    )
    return result.to_pylist()
