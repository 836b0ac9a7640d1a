// Keyboard shortcuts of the case page (backoffice.admin_cases): j next, k previous, c claim, d decide.
// Never while typing in a field, never with a modifier key held.
(function () {
  "use strict";
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var link = null;
    if (event.key === "j") {
      link = document.getElementById("case-next");
    } else if (event.key === "k") {
      link = document.getElementById("case-prev");
    }
    if (link) {
      event.preventDefault();
      window.location.assign(link.href);
      return;
    }
    if (event.key === "c") {
      var claim = document.querySelector("#case-claim button");
      if (claim) {
        event.preventDefault();
        claim.click();
      }
    } else if (event.key === "d") {
      var outcome = document.querySelector("#case-decide select[name=outcome]");
      if (outcome) {
        event.preventDefault();
        outcome.scrollIntoView({block: "center"});
        outcome.focus();
      }
    }
  });
})();
