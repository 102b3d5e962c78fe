// Questionnaires: a question whose display conditions do not hold is hidden (and its fields disabled)
// as people answer, by the same rules the server applies (node/services/questionnaire_forms.py
// ``visible``: in order, a condition on a hidden question sees it unanswered). An improvement only:
// without this script every question shows, each conditional one saying when it applies, and the
// server drops the answers to those that do not. A file of its own: the CSP allows no inline script.
// The builder's "add a question" form: only the groups of fields for the chosen kind show (each
// group names its kinds in data-kinds); without this script every group shows, saying its kinds.
(function () {
  "use strict";
  var kind = document.getElementById("new-kind");
  if (!kind) {
    return;
  }
  var groups = Array.prototype.slice.call(kind.form.querySelectorAll("[data-kinds]"));
  function narrow() {
    groups.forEach(function (group) {
      var shown = group.getAttribute("data-kinds").split(" ").indexOf(kind.value) >= 0;
      group.hidden = !shown;
      Array.prototype.forEach.call(group.querySelectorAll("input, select, textarea"), function (field) {
        field.disabled = !shown; // not sent: a kind's form carries only its own parts
      });
    });
  }
  kind.addEventListener("change", narrow);
  narrow();
})();

(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire-form");
  if (!form) {
    return;
  }
  var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-question]"));
  var MATCH_SUBJECT = 300;

  function fields(wrapper) {
    return Array.prototype.slice.call(wrapper.querySelectorAll("input, select, textarea"));
  }

  function isEmpty(value) {
    if (value === null || value === undefined || value === "") {
      return true;
    }
    if (Array.isArray(value)) {
      return value.length === 0;
    }
    return typeof value === "object" && Object.keys(value).length === 0;
  }

  // The value of a question in the shapes of the stored answers (text, key, [keys], number, {row: [keys]}).
  function valueOf(wrapper) {
    var kind = wrapper.getAttribute("data-kind");
    var prefix = "q" + wrapper.getAttribute("data-question");
    var inputs = fields(wrapper);
    var chosen = inputs.filter(function (input) { return input.checked; });
    if (kind === "short_text" || kind === "long_text") {
      return inputs.length ? inputs[0].value.trim() : null;
    }
    if (kind === "single") {
      return chosen.length ? chosen[0].value : null;
    }
    if (kind === "scale") {
      return chosen.length ? Number(chosen[0].value) : null;
    }
    if (kind === "multiple") {
      return chosen.map(function (input) { return input.value; });
    }
    if (kind === "ranking") {
      var ranked = inputs.filter(function (select) { return select.value !== ""; });
      ranked.sort(function (a, b) { return Number(a.value) - Number(b.value); });
      return ranked.map(function (select) { return select.name.slice(prefix.length + 1); });
    }
    if (kind === "matrix_single" || kind === "matrix_multiple") {
      var cells = {};
      chosen.forEach(function (input) {
        var row = input.name.slice(prefix.length + 1);
        (cells[row] = cells[row] || []).push(input.value);
      });
      return cells;
    }
    if (kind === "file") {
      return inputs.length && inputs[0].files && inputs[0].files.length ? true : null;
    }
    return null;
  }

  function holds(condition, value) {
    var op = condition.op;
    if (op === "answered") {
      return !isEmpty(value);
    }
    if (op === "not_answered") {
      return isEmpty(value);
    }
    if (isEmpty(value)) {
      return op === "not_equals";
    }
    if (op === "matches") {
      if (typeof value !== "string") {
        return false;
      }
      try {
        return new RegExp(condition.value).test(value.slice(0, MATCH_SUBJECT));
      } catch (error) {
        return true; // a pattern this browser cannot read: shown, the server decides
      }
    }
    var same;
    if (Array.isArray(value)) {
      same = value.indexOf(condition.value) >= 0;
    } else if (typeof value === "string" && typeof condition.value === "string") {
      same = value.trim().toLowerCase() === condition.value.trim().toLowerCase();
    } else {
      same = value === condition.value;
    }
    return op === "equals" ? same : !same;
  }

  function conditionsOf(wrapper) {
    var text = wrapper.getAttribute("data-conditions");
    if (!text) {
      return [];
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      return [];
    }
  }

  function update() {
    var seen = {};
    wrappers.forEach(function (wrapper) {
      var shown = conditionsOf(wrapper).every(function (condition) {
        return holds(condition, seen[String(condition.question)]);
      });
      wrapper.hidden = !shown;
      fields(wrapper).forEach(function (input) { input.disabled = !shown; });
      if (shown) {
        seen[wrapper.getAttribute("data-question")] = valueOf(wrapper);
      }
    });
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
