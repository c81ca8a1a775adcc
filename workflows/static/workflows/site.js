// The site's one script, served from our own static files (the Content-Security-Policy forbids inline
// scripts and event handlers). Every page works without it: it only saves a click.
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-submit-on-change]");
  if (field && field.form) {
    field.form.submit();
  }
});
