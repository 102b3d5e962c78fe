// The ballot's running total, kept up to date as projects are ticked (web/templates/participation/
// budget_ballot.html). A file of its own because the Content-Security-Policy allows no inline script.
// Everything here is an improvement: without JavaScript the "Recalculate the total" button asks
// the server for the same figures, and the server checks the ballot's rule whatever this shows.
(function () {
  "use strict";
  var form = document.getElementById("ballot");
  if (!form || window.civicBallot) {
    return;
  }
  window.civicBallot = true;
  var rule = form.getAttribute("data-rule");
  var limit = parseInt(form.getAttribute("data-limit"), 10) || 0;
  var minSpend = parseInt(form.getAttribute("data-min-spend"), 10) || 0;
  var min = parseInt(form.getAttribute("data-min"), 10) || 0;
  var max = parseInt(form.getAttribute("data-max"), 10) || 0;
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox][data-cost]"));
  var problem = document.getElementById("ballot-problem");
  var ok = document.getElementById("ballot-ok");
  var money;
  try {
    money = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency", currency: form.getAttribute("data-currency") || "EUR",
      minimumFractionDigits: 0, maximumFractionDigits: 0
    });
  } catch (error) {
    money = new Intl.NumberFormat(undefined, {maximumFractionDigits: 0});
  }

  function set(id, text) {
    var element = document.getElementById(id);
    if (element) {
      element.textContent = text;
    }
  }

  function say(message) {
    if (!problem) {
      return;
    }
    problem.textContent = message || "";
    problem.hidden = !message;
  }

  function update() {
    var total = 0;
    var count = 0;
    boxes.forEach(function (box) {
      if (box.checked) {
        total += parseInt(box.getAttribute("data-cost"), 10) || 0;
        count += 1;
      }
    });
    if (ok) {
      ok.hidden = true; // it described the choices the server saw, not these
    }
    if (rule === "knapsack") {
      set("ballot-total", money.format(total));
      set("ballot-left", money.format(limit - total));
      var bar = document.getElementById("ballot-progress");
      if (bar) {
        bar.value = Math.min(total, limit);
      }
      form.classList.toggle("ballot-over", total > limit);
      if (total > limit) {
        say(form.getAttribute("data-over").replace("{amount}", money.format(total - limit)));
      } else if (count > 0 && total < minSpend) {
        say(form.getAttribute("data-under").replace("{amount}", money.format(minSpend)));
      } else {
        say("");
      }
    } else {
      set("ballot-count", String(count));
      if (max && count > max) {
        say(form.getAttribute("data-too-many").replace("{count}", String(max)));
      } else if (count > 0 && min && count < min) {
        say(form.getAttribute("data-too-few").replace("{count}", String(min)));
      } else {
        say("");
      }
    }
  }

  boxes.forEach(function (box) {
    box.addEventListener("change", update);
  });
})();
