// Forms: after a failed submit, focus the error summary; live character counters on limited fields.
// A file of its own because the Content-Security-Policy allows no inline script (script-src 'self').
// Everything here is an improvement: the forms work without it (autofocus, server-side checks).
(function () {
  "use strict";
  if (window.civicForms) {
    return; // included by each form piece that needs it: run once
  }
  window.civicForms = { counters: counters };

  // The summary has autofocus; browsers that ignore it on a <div> get the focus here.
  var summary = document.getElementById("error-summary");
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }
  // A link of the summary moves the focus to its field, not only the scroll position.
  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (field) {
        event.preventDefault();
        field.focus();
        field.scrollIntoView({ block: "center" });
      }
    });
  }

  // "Characters left: 12" / "Too many characters: 3", updated as people type; screen readers hear
  // it once they pause (a polite live region written a second after the last key).
  // ``root``: the document, or what a script added to it later (threads.js: the next threads).
  function counters(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-counter-for]"), startCounter);
  }
  function startCounter(counter) {
    var field = document.getElementById(counter.getAttribute("data-counter-for"));
    var status = document.getElementById(counter.id + "-status");
    var limit = parseInt(counter.getAttribute("data-limit"), 10);
    if (!field || !limit) {
      return;
    }
    var timer = null;
    function text() {
      // Characters as the server counts them (code points), not UTF-16 units.
      var length = Array.from(field.value).length;
      var over = length > limit;
      var template = counter.getAttribute(over ? "data-over" : "data-left");
      counter.classList.toggle("counter-over", over);
      return template.replace("{count}", String(over ? length - limit : limit - length));
    }
    function update() {
      counter.textContent = text();
      if (status) {
        clearTimeout(timer);
        timer = setTimeout(function () { status.textContent = counter.textContent; }, 1000);
      }
    }
    counter.setAttribute("aria-hidden", "true"); // the live region speaks for it
    counter.textContent = text();
    field.addEventListener("input", update);
  }
  counters(document);
})();
