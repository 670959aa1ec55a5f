// Click a column header to sort the table by it (numbers as numbers); click again to reverse.
document.addEventListener("click", (event) => {
  const th = event.target.closest("table.sortable th");
  if (!th) return;
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const descending = th.classList.contains("asc");
  table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
  th.classList.add(descending ? "desc" : "asc");
  const value = (row) => row.cells[col] ? row.cells[col].textContent.trim() : "";
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = value(a), y = value(b), nx = parseFloat(x), ny = parseFloat(y);
    const order = !isNaN(nx) && !isNaN(ny) && String(nx) === x.replace(/,/g, "") ? nx - ny : x.localeCompare(y);
    return descending ? -order : order;
  });
  rows.forEach((row) => body.appendChild(row));
});
