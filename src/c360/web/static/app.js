// c360 web app: keyboard shortcuts on the review queue, consumer switch, nothing else.
(function () {
  "use strict";
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var button = document.querySelector('button[data-key="' + ev.key.toLowerCase() + '"]');
    if (button) { ev.preventDefault(); button.click(); }
  });
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.classList && t.classList.contains("autosubmit") && t.form && t.form.checkValidity()) t.form.submit();
  });
})();
