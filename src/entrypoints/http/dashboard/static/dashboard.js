// Small progressive enhancements: copy buttons, confirmations, upload progress.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var el = document.querySelector(btn.getAttribute("data-copy"));
    if (!el) return;
    var text = el.textContent.trim();
    var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(el); });
    } else { select(el); done(); }
  });
  function select(el) {
    var range = document.createRange(); range.selectNodeContents(el);
    var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* selection stays for manual copy */ }
  }
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
    var progress = form.querySelector("progress");
    var file = form.querySelector("input[type=file]");
    if (progress && file && file.files.length && window.XMLHttpRequest && window.FormData) {
      ev.preventDefault();
      var xhr = new XMLHttpRequest();
      progress.hidden = false;
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = function () { window.location.href = xhr.responseURL || window.location.href; };
      xhr.onerror = function () { form.submit(); };
      xhr.open("POST", form.action);
      xhr.send(new FormData(form));
    }
  });
})();
