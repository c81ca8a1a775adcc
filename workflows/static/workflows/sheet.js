// A score sheet saves item by item without reloading the page: the form of one item is posted as it would be
// without this script (with an X-Sheet-Item header), the page that comes back gives the item's new form (its
// score, or its errors beside the fields) and the running totals, which replace those on the page. Without
// this script, or if anything goes wrong, the form is posted as usual and the page comes back at the item.
(() => {
  const replace = (doc, selector) => {
    const fresh = doc.querySelector(selector);
    const old = document.querySelector(selector);
    if (fresh && old) {
      old.replaceWith(document.importNode(fresh, true));
    }
    return document.querySelector(selector);
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-sheet-item]");
    if (!form || form.dataset.saving) {
      return;
    }
    event.preventDefault();
    form.dataset.saving = "1";
    const button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
    }
    try {
      const response = await fetch(window.location.pathname + window.location.search, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Sheet-Item": form.dataset.sheetItem },
        credentials: "same-origin",
      });
      const type = response.headers.get("Content-Type") || "";
      if (!type.startsWith("text/html") || (response.status !== 200 && response.status !== 400)) {
        throw new Error("unexpected answer");
      }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const row = replace(doc, "#" + CSS.escape(form.id));
      replace(doc, "#sheet-totals");
      if (!row) {
        throw new Error("no item in the answer");
      }
      const error = row.querySelector(".errorlist");
      (error || row).scrollIntoView({ block: "nearest" });
      const focus = row.querySelector("[aria-invalid=true], input:not([type=hidden]), textarea, select");
      if (error && focus) {
        focus.focus();
      }
    } catch (_problem) {
      delete form.dataset.saving;
      form.submit(); // the plain post: the page comes back at this item
    }
  });
})();
