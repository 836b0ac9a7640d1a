// The rule editor (fraud.admin_rules.RuleSetAdmin.rule_view): the expression is checked as the admin types,
// without saving (POST to the form's data-check-url, answered {ok, position, message}), and the French
// message shows under the field with a caret at the column. The save checks again on the server.
(function () {
  "use strict";
  var DELAY_MS = 350;

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // The line of the expression holding `position` (from 1), the column in it (from 0).
  function locate(text, position) {
    var index = Math.max(0, Math.min(position - 1, text.length));
    var start = index === 0 ? 0 : text.lastIndexOf("\n", index - 1) + 1;
    var end = text.indexOf("\n", index);
    return {line: text.slice(start, end === -1 ? text.length : end), column: index - start};
  }

  function drawCaret(pre, text, position) {
    var spot = locate(text, position);
    pre.textContent = "";
    pre.appendChild(document.createTextNode(spot.line.slice(0, spot.column)));
    if (spot.column < spot.line.length) {
      var mark = document.createElement("mark");
      mark.textContent = spot.line.charAt(spot.column);
      pre.appendChild(mark);
      pre.appendChild(document.createTextNode(spot.line.slice(spot.column + 1)));
    }
    var caret = document.createElement("span");
    caret.className = "rule-caret-mark";
    caret.textContent = "\n" + " ".repeat(spot.column) + "^";
    pre.appendChild(caret);
    pre.dataset.column = String(spot.column + 1);
    pre.hidden = false;
  }

  function start() {
    var form = document.getElementById("rule-form");
    var field = document.getElementById("id_expression");
    var box = document.getElementById("expression-check");
    if (!form || !field || !box || !form.dataset.checkUrl) {
      return;
    }
    var message = box.querySelector(".rule-check-message");
    var pre = box.querySelector(".rule-caret");
    var idField = document.getElementById("id_rule_id");
    var timer = null;
    var sent = 0;
    var controller = null;
    field.setAttribute("aria-describedby", box.id);

    function show(answer, text) {
      box.hidden = false;
      box.dataset.state = answer.ok ? "ok" : "bad";
      box.classList.toggle("rule-check-ok", !!answer.ok);
      box.classList.toggle("rule-check-bad", !answer.ok);
      message.textContent = answer.message || "";
      if (answer.ok || !answer.position) {
        pre.hidden = true;
        pre.textContent = "";
        delete box.dataset.position;
      } else {
        box.dataset.position = String(answer.position);
        drawCaret(pre, text, answer.position);
      }
      if (answer.ok) {
        field.removeAttribute("aria-invalid");
      } else {
        field.setAttribute("aria-invalid", "true");
      }
    }

    function check() {
      var text = field.value;
      if (!text.trim()) {
        box.hidden = true;
        return;
      }
      var mine = ++sent;
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      var body = new FormData();
      body.append("expression", text);
      body.append("rule_id", form.dataset.ruleId || (idField ? idField.value : ""));
      fetch(form.dataset.checkUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: {"X-CSRFToken": csrfToken(form), "Accept": "application/json"},
        signal: controller ? controller.signal : undefined
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (answer) {
          if (mine === sent) {
            show(answer, text);
          }
        })
        .catch(function () {
          // Offline or aborted: the save checks the expression anyway.
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, DELAY_MS);
    }

    field.addEventListener("input", later);
    if (idField) {
      idField.addEventListener("input", later);
    }
    if (field.value.trim() && box.closest(".errors")) {
      check(); // the save refused it: show where
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
