// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Inbox: a "select all" box for bulk approval.
  const all = document.querySelector("input[data-select-all]");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", () => {
      document.querySelectorAll("input[name=task_ids]:not(:disabled)").forEach((box) => {
        box.checked = all.checked;
      });
    });
  }
  // Filters apply as soon as they change.
  document.querySelectorAll("form.filters select").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
});
