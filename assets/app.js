// Small behaviours that need script. Everything works without it.
// 1. Confirmation for destructive buttons: <button data-confirm="Delete this lead?">.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = button && button.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
}, true);
document.addEventListener("htmx:confirm", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (!message) return;
  event.preventDefault();
  if (window.confirm(message)) event.detail.issueRequest(true);
});
// 2. Selects that submit their form when changed: <select data-autosubmit>.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
    if (window.htmx && target.form.hasAttribute("hx-post")) return;
    target.form.requestSubmit();
  }
});
